"""Server-side messages in the caller's language: API errors keep their English ``detail``
and add ``message`` only when ``Accept-Language`` asks for a catalog's language; the 404 page
of an unknown feed speaks the reader's ``Accept-Language``."""

from __future__ import annotations

import re
from typing import Any

import httpx

from app import api_messages, i18n
from tests.conftest import ADMIN

FR = {"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.5"}


async def error(
    client: httpx.AsyncClient, method: str, path: str, status: int, **kw: Any
) -> tuple[dict[str, Any], httpx.Headers]:
    r = await client.request(method, path, **kw)
    assert r.status_code == status, r.text
    return r.json(), r.headers


async def test_without_accept_language_an_error_body_is_unchanged(
    client: httpx.AsyncClient,
) -> None:
    body, headers = await error(client, "GET", "/api/feeds/nope", 404)
    assert body == {"detail": "feed 'nope' not found"}
    assert "vary" not in headers
    # A language the UI has no catalog for: the same (no message).
    body, _ = await error(
        client, "GET", "/api/feeds/nope", 404, headers={"Accept-Language": "zz, xx;q=0.5"}
    )
    assert body == {"detail": "feed 'nope' not found"}


async def test_errors_carry_a_message_in_the_requested_language(
    client: httpx.AsyncClient, feed: str
) -> None:
    # Store errors (404, 409), with the English detail untouched.
    body, headers = await error(client, "GET", "/api/feeds/nope", 404, headers=FR)
    assert body == {"detail": "feed 'nope' not found", "message": "direct 'nope' introuvable"}
    assert headers["vary"] == "Accept-Language"
    created = {"slug": feed, "title": "T", "locale": "fr-FR", "timezone": "UTC"}
    body, _ = await error(client, "POST", "/api/feeds", 409, json=created, headers={**ADMIN, **FR})
    assert body["message"] == f"un direct avec l’identifiant '{feed}' existe déjà"
    # HTTP errors: 401 keeps its WWW-Authenticate header; 403; 413 from the route.
    r = await client.post(f"/api/feeds/{feed}/entries", json={"body": "x"}, headers=FR)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.json() == {
        "detail": "sign in: send a bearer token or the session cookie",
        "message": "connexion requise : envoyez un jeton bearer ou le cookie de session",
    }
    body, _ = await error(
        client,
        "POST",
        "/api/feeds/other/tokens",
        403,
        json={"name": "x"},
        headers={"Authorization": "Bearer " + await reporter(client, feed), **FR},
    )
    right = re.fullmatch(r"missing the right (\S+)(?: on feed .*)?", body["detail"])
    assert right, body["detail"]
    assert body["message"].startswith(f"il manque le droit {right.group(1)}")
    body, _ = await error(
        client,
        "POST",
        "/api/preview",
        413,
        json={"body": "x" * 50_001},
        headers={**ADMIN, "Accept-Language": "ru"},
    )
    assert body["detail"] == "entry body is 50001 characters; the limit is 50000"
    assert body["message"] == "в тексте 50001 символов; предел — 50000"
    # A lifecycle refusal (409), its status names carried over as they are.
    r = await client.post(f"/api/feeds/{feed}/entries", json={"body": "x"}, headers=ADMIN)
    body, _ = await error(
        client,
        "PATCH",
        f"/api/feeds/{feed}/entries/{r.json()['id']}",
        409,
        json={"status": "submitted"},
        headers={**ADMIN, **FR},
    )
    assert body["message"] == (
        "une mise à jour ne peut pas passer de published à submitted "
        "(repassez-la d’abord en brouillon)"
    )
    # Validation errors, part by part; `errors` unchanged.
    body, _ = await error(
        client,
        "POST",
        "/api/feeds",
        422,
        json={"slug": "x" * 65, "junk": 1},
        headers={**ADMIN, "Accept-Language": "de"},
    )
    parts = body["detail"].split("; ")
    assert "title: Field required" in parts and "junk: unknown field" in parts
    assert "title: Pflichtfeld" in body["message"]
    assert "junk: unbekanntes Feld" in body["message"]
    assert [e["type"] for e in body["errors"]]
    body, _ = await error(
        client,
        "POST",
        "/api/feeds",
        400,
        content=b"{nope",
        headers={**ADMIN, **FR, "Content-Type": "application/json"},
    )
    assert body["message"].startswith("JSON mal formé : ")
    # The body-size guard answers before any route (raw ASGI), in the language too.
    body, headers = await error(
        client,
        "POST",
        f"/api/feeds/{feed}/entries",
        413,
        content=b"x" * (300 * 1024),
        headers={**ADMIN, "Accept-Language": "ja", "Content-Type": "application/json"},
    )
    assert body["detail"].startswith("request body too large")
    assert body["message"].startswith("リクエスト本文が大きすぎます") and headers["vary"]


async def reporter(client: httpx.AsyncClient, feed: str) -> str:
    r = await client.post(f"/api/feeds/{feed}/tokens", json={"name": "R"}, headers=ADMIN)
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def test_every_api_message_template_is_translated_and_keeps_its_fields() -> None:
    for template in api_messages.API_MESSAGES:
        fields = set(re.findall(r"\{(\w+)\}", template))
        sample = {name: f"<{name}>" for name in fields}
        detail = re.sub(r"\{(\w+)\}", r"<\1>", template)
        assert api_messages.localized(detail, "en") == detail
        for language in i18n.LANGUAGES[1:]:
            message = api_messages.localized(detail, language)
            assert message != detail, (language, template)
            assert all(value in message for value in sample.values()), (language, template)
    # A detail no template fits stays as it is.
    assert api_messages.localized("something new went wrong", "fr") == "something new went wrong"


async def test_unknown_feed_pages_speak_the_readers_language(client: httpx.AsyncClient) -> None:
    for path in ("/feeds/nope", "/feeds/nope/entries/1", "/embed/nope", "/feeds/nope/atom.xml"):
        r = await client.get(path)
        assert r.status_code == 404 and "No live blog called “nope”." in r.text, path
        assert '<html lang="en"' in r.text
        r = await client.get(path, headers={"Accept-Language": "uk, en;q=0.1"})
        assert r.status_code == 404 and "Трансляції «nope» немає." in r.text, path
        assert '<html lang="uk"' in r.text and r.headers["vary"] == "Accept-Language"
        r = await client.get(path, headers={"Accept-Language": "ar"})
        assert 'dir="rtl"' in r.text.split(">", 2)[1]
    r = await client.get("/feeds/nope?before=1&after=2", headers=FR)
    assert r.status_code == 404 and "N’utilisez qu’un seul de before, around et after." in r.text
