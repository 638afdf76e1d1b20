"""Hostile input gets a 4xx naming the problem, never a 500, on SQLite and PostgreSQL; text
outputs stay well-formed whatever is stored; pages carry their framing policy."""

from __future__ import annotations

import json
import re
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from app.store.tables import entries, feeds
from tests.conftest import ADMIN

# Every character the API refuses in text: C0 controls other than tab/LF/CR, lone surrogates
# (sent as JSON escapes), the two non-characters.
REFUSED = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\ud800", "\ufffe"]
FORBIDDEN_IN_OUTPUT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _json(payload: dict[str, Any]) -> bytes:
    # ensure_ascii: lone surrogates travel as \\ud800 escapes, as a hostile client sends them.
    return json.dumps(payload).encode()


async def _send(
    client: httpx.AsyncClient, method: str, url: str, payload: dict[str, Any]
) -> httpx.Response:
    return await client.request(
        method,
        url,
        content=_json(payload),
        headers={**ADMIN, "Content-Type": "application/json"},
    )


async def _entry(client: httpx.AsyncClient, feed: str, **fields: Any) -> dict[str, Any]:
    response = await _send(client, "POST", f"/api/feeds/{feed}/entries", {"body": "x", **fields})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.mark.parametrize("char", REFUSED, ids=[f"U+{ord(c):04X}" for c in REFUSED])
async def test_control_characters_are_refused_in_every_text_field(
    client: httpx.AsyncClient, feed: str, char: str
) -> None:
    entry = await _entry(client, feed)
    bad = f"a{char}b"
    cases = [
        ("POST", "/api/feeds", {"slug": "x-1", "title": bad}, "title"),
        ("POST", "/api/feeds", {"slug": "x-2", "title": "t", "description": bad}, "description"),
        ("POST", "/api/feeds", {"slug": f"x{char}3", "title": "t"}, "slug"),
        ("PATCH", f"/api/feeds/{feed}", {"title": bad}, "title"),
        ("PATCH", f"/api/feeds/{feed}", {"description": bad}, "description"),
        ("POST", f"/api/feeds/{feed}/entries", {"body": bad}, "body"),
        ("POST", f"/api/feeds/{feed}/entries", {"body": "ok", "author": bad}, "author"),
        ("PATCH", f"/api/feeds/{feed}/entries/{entry['id']}", {"body": bad}, "body"),
        ("PATCH", f"/api/feeds/{feed}/entries/{entry['id']}", {"author": bad}, "author"),
        ("POST", f"/api/feeds/{feed}/tokens", {"name": bad}, "name"),
        (
            "POST",
            f"/api/feeds/{feed}/entries",
            {"body": "ok", "media": [{"id": 1, "alt": bad}]},
            "media.0.MediaRef.alt",
        ),
        (
            "PATCH",
            f"/api/feeds/{feed}/entries/{entry['id']}",
            {"media": [{"id": 1, "credit": bad}]},
            "media.0.MediaRef.credit",
        ),
        ("POST", "/api/preview", {"body": bad}, "body"),
    ]
    for method, url, payload, field in cases:
        response = await _send(client, method, url, payload)
        assert response.status_code == 422, (method, url, field, response.text)
        assert f"{field}: " in response.json()["detail"], response.text
    # Nothing was written.
    listed = (await client.get(f"/api/feeds/{feed}/entries")).json()
    assert [e["id"] for e in listed["entries"]] == [entry["id"]]


async def test_tab_newline_and_carriage_return_are_kept(
    client: httpx.AsyncClient, feed: str
) -> None:
    entry = await _entry(client, feed, body="a\tb\r\nc\nd", author="Ana\tB")
    assert entry["body"] == "a\tb\r\nc\nd"
    assert entry["author"] == "Ana\tB"


async def test_outputs_stay_well_formed_whatever_is_stored(
    app: FastAPI, client: httpx.AsyncClient, feed: str
) -> None:
    entry = await _entry(client, feed, key_event=True)
    # (PostgreSQL cannot store NUL at all: from U+0001 on.)
    hostile = "".join(chr(c) for c in range(1, 32) if chr(c) not in "\t\n\r") + "\ufffe<&>"
    # Text stored before the rule existed (written straight to the database).
    async with app.state.livefeed.store.engine.begin() as conn:
        await conn.execute(
            update(entries)
            .where(entries.c.id == entry["id"])
            .values(
                body=f"b{hostile}",
                html=f"<p>h{hostile.replace('<&>', '')}</p>",
                author=f"a{hostile}",
            )
        )
        await conn.execute(
            update(feeds)
            .where(feeds.c.slug == feed)
            .values(title=f"t{hostile}", description=f"d{hostile}")
        )
    atom = await client.get(f"/feeds/{feed}/atom.xml")
    assert atom.status_code == 200
    root = ET.fromstring(atom.content)  # raises on a document that is not well-formed
    assert root.tag.endswith("feed")
    for path in (f"/feeds/{feed}", f"/embed/{feed}"):
        page = await client.get(path)
        assert page.status_code == 200, path
        assert not FORBIDDEN_IN_OUTPUT.search(page.text), path
        for block in re.findall(r"<script type=\"application/(?:ld\+)?json\"[^>]*>(.*?)</script>",
                                page.text, re.S):  # fmt: skip
            json.loads(block)


@pytest.mark.parametrize(
    "published_at",
    [
        "9999-12-31T23:59:59-12:00",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T00:00:00+00:00",
        1719213000.5,
        1719213000,
        "2024-06-24T09:30:00",
    ],
)
async def test_bad_published_at_gets_422(
    client: httpx.AsyncClient, feed: str, published_at: object
) -> None:
    entry = await _entry(client, feed)
    for method, url in (
        ("POST", f"/api/feeds/{feed}/entries"),
        ("PATCH", f"/api/feeds/{feed}/entries/{entry['id']}"),
    ):
        response = await _send(client, method, url, {"body": "x", "published_at": published_at})
        assert response.status_code == 422, response.text
        assert response.json()["detail"].startswith("published_at:"), response.text


async def test_published_at_at_the_edges_of_the_range_is_served(
    client: httpx.AsyncClient, feed: str
) -> None:
    for moment in ("0001-01-02T00:00:00+00:00", "9999-12-30T23:59:59+00:00"):
        await _entry(client, feed, published_at=moment)
    for path in (f"/api/feeds/{feed}/entries", f"/feeds/{feed}", f"/feeds/{feed}/atom.xml"):
        assert (await client.get(path)).status_code == 200, path


async def test_strict_types_for_flags(client: httpx.AsyncClient, feed: str) -> None:
    for value in (1, "true", 0):
        response = await _send(
            client, "POST", f"/api/feeds/{feed}/entries", {"body": "x", "pinned": value}
        )
        assert response.status_code == 422, response.text


HUGE = [2**31, 2**53 + 1, 2**63, 2**64, 10**30]


@pytest.mark.parametrize("number", HUGE)
async def test_huge_ids_and_cursors_get_4xx(
    client: httpx.AsyncClient, feed: str, number: int
) -> None:
    anonymous = [
        f"/api/feeds/{feed}/entries?before={number}",
        f"/api/feeds/{feed}/entries/{number}",
        f"/feeds/{feed}?before={number}",
        f"/embed/{feed}?before={number}",
    ]
    if number >= 2**63:
        anonymous.append(f"/api/feeds/{feed}/changes?since={number}")
    for url in anonymous:
        response = await client.get(url)
        assert 400 <= response.status_code < 500, (url, response.status_code, response.text)
    for method in ("PATCH", "DELETE"):
        response = await _send(client, method, f"/api/feeds/{feed}/entries/{number}", {"body": "x"})
        assert 400 <= response.status_code < 500, (method, response.text)


async def test_ids_and_cursors_up_to_what_the_database_holds(
    client: httpx.AsyncClient, feed: str
) -> None:
    biggest = 2**31 - 1
    assert (await client.get(f"/api/feeds/{feed}/entries/{biggest}")).status_code == 404
    assert (await client.get(f"/api/feeds/{feed}/entries?before={biggest}")).status_code == 400
    changes = await client.get(f"/api/feeds/{feed}/changes?since={2**63 - 1}")
    assert changes.status_code == 200
    assert changes.json()["events"][0]["type"] == "reset"


@pytest.mark.parametrize("slug", ["a%00b", "a%01b", "%ff", "A" * 65, "a%2Fb"])
async def test_impossible_slugs_get_4xx(client: httpx.AsyncClient, slug: str) -> None:
    for url in (
        f"/feeds/{slug}",
        f"/feeds/{slug}/atom.xml",
        f"/embed/{slug}",
        f"/sse/feeds/{slug}",
        f"/api/feeds/{slug}",
        f"/api/feeds/{slug}/entries",
        f"/api/feeds/{slug}/changes?since=0",
        f"/oembed?url=http://testserver/feeds/{slug}",
    ):
        response = await client.get(url)
        assert 400 <= response.status_code < 500, (url, response.status_code, response.text)


async def test_idempotency_key_with_a_control_character_gets_422(
    client: httpx.AsyncClient, feed: str
) -> None:
    response = await client.post(
        f"/api/feeds/{feed}/entries",
        json={"body": "x"},
        headers={**ADMIN, "Idempotency-Key": "a\x7fb"},
    )
    assert response.status_code == 422, response.text


async def test_api_and_error_responses_say_nosniff(client: httpx.AsyncClient, feed: str) -> None:
    for response in (
        await client.get("/api/feeds"),
        await client.get("/api/feeds/nope"),
        await client.post("/api/feeds", json={}, headers=ADMIN),
        await client.post("/api/feeds", content=b"{", headers=ADMIN),
        await client.post("/api/feeds", json={"slug": "a", "title": "b"}),
        await client.get(f"/api/feeds/{feed}/changes?since=0"),
        await client.get(f"/feeds/{feed}"),
    ):
        assert response.headers.get("x-content-type-options") == "nosniff", response.url


async def test_reader_page_of_a_restricted_feed_cannot_be_framed_elsewhere(
    client: httpx.AsyncClient, feed: str
) -> None:
    open_page = await client.get(f"/feeds/{feed}")
    assert "frame-ancestors *" in open_page.headers["content-security-policy"]
    patched = await client.patch(
        f"/api/feeds/{feed}",
        json={"allowed_origins": ["https://news.example", "https://b.example:8443"]},
        headers=ADMIN,
    )
    assert patched.status_code == 200, patched.text
    for path in (f"/feeds/{feed}", f"/embed/{feed}"):
        policy = (await client.get(path)).headers["content-security-policy"]
        ancestors = [p.strip() for p in policy.split(";") if "frame-ancestors" in p]
        assert ancestors == [
            "frame-ancestors 'self' https://news.example https://b.example:8443"
        ], path


async def test_openapi_documents_every_error_status_and_the_real_bodies(
    client: httpx.AsyncClient, feed: str
) -> None:
    schema = (await client.get("/openapi.json")).json()
    components = schema["components"]["schemas"]
    assert "HTTPValidationError" not in components  # FastAPI's 422 body, never sent
    assert components["ValidationErrorBody"]["properties"]["detail"]["type"] == "string"
    operations = schema["paths"]
    expected = {
        ("post", "/api/feeds"): {"201", "400", "401", "403", "409", "413", "422"},
        ("post", "/api/feeds/{slug}/entries"): {"201", "400", "401", "403", "404", "409", "413"},
        ("get", "/api/feeds/{slug}/entries"): {"200", "400", "404", "422"},
        ("delete", "/api/tokens/{token_id}"): {"204", "401", "403", "404", "422"},
        ("get", "/api/whoami"): {"200", "401"},
    }
    for (method, path), statuses in expected.items():
        assert statuses <= set(operations[path][method]["responses"]), (method, path)
    # A 422 body as sent has the documented shape: detail names the field, errors list it.
    response = await client.post(
        f"/api/feeds/{feed}/entries", json={"body": "x", "published_at": 1.5}, headers=ADMIN
    )
    assert response.status_code == 422
    body = response.json()
    # `message` only when Accept-Language asks for one of the UI's languages.
    assert set(body) | {"message"} == set(components["ValidationErrorBody"]["properties"])
    assert body["errors"][0]["loc"] == ["body", "published_at"]
    response = await client.post(
        f"/api/feeds/{feed}/entries",
        json={"body": "x", "published_at": 1.5},
        headers={**ADMIN, "Accept-Language": "it"},
    )
    assert set(response.json()) == set(components["ValidationErrorBody"]["properties"])
    # A float is not a datetime here: the schema says string/date-time and the API agrees.
    published = components["EntryCreate"]["properties"]["published_at"]["anyOf"][0]
    assert published == {"type": "string", "format": "date-time"}


async def test_unsupported_method_gets_405_naming_every_allowed_one(
    client: httpx.AsyncClient, feed: str
) -> None:
    for method, path, allowed in (
        ("OPTIONS", "/api/feeds", "GET, POST"),
        ("PUT", "/api/feeds", "GET, POST"),
        ("OPTIONS", f"/api/feeds/{feed}", "GET, PATCH"),
        ("PUT", f"/api/feeds/{feed}/entries/1", "DELETE, GET, PATCH"),
        ("POST", "/healthz", "GET"),
    ):
        response = await client.request(method, path, headers=ADMIN)
        assert response.status_code == 405, (method, path)
        assert response.headers["allow"] == allowed, (method, path)
        assert response.json() == {"detail": "Method Not Allowed"}
