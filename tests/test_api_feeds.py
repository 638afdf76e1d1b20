"""Feeds and tokens over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx

from tests.conftest import ADMIN


async def test_create_get_list_feed(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/feeds",
        json={"slug": "election-night", "title": "Election night", "description": "Results"},
        headers=ADMIN,
    )
    assert created.status_code == 201
    body = created.json()
    assert body["slug"] == "election-night"
    assert body["rev"] == 0
    assert body["status"] == "live"
    assert body["locale"] == "en-GB"

    one = await client.get("/api/feeds/election-night")
    assert one.status_code == 200
    assert one.json()["title"] == "Election night"

    listing = await client.get("/api/feeds")
    assert [f["slug"] for f in listing.json()] == ["election-night"]


async def test_live_feeds_listed_first(client: httpx.AsyncClient) -> None:
    for slug in ("old", "new"):
        response = await client.post(
            "/api/feeds", json={"slug": slug, "title": slug}, headers=ADMIN
        )
        assert response.status_code == 201
    ended = await client.patch("/api/feeds/new", json={"status": "ended"}, headers=ADMIN)
    assert ended.status_code == 200
    assert ended.json()["ended_at"] is not None
    listing = await client.get("/api/feeds")
    assert [f["slug"] for f in listing.json()] == ["old", "new"]


async def test_patch_feed_takes_a_rev_and_logs_a_feed_event(
    client: httpx.AsyncClient, feed: str
) -> None:
    patched = await client.patch(
        f"/api/feeds/{feed}", json={"title": "Nouveau titre"}, headers=ADMIN
    )
    assert patched.status_code == 200
    assert patched.json()["rev"] == 1
    changes = (await client.get(f"/api/feeds/{feed}/changes", params={"since": 0})).json()
    assert changes["rev"] == 1
    assert changes["events"][0]["type"] == "feed"
    assert changes["events"][0]["feed"]["title"] == "Nouveau titre"
    # The same value again changes nothing and takes no rev.
    same = await client.patch(f"/api/feeds/{feed}", json={"title": "Nouveau titre"}, headers=ADMIN)
    assert same.json()["rev"] == 1


async def test_duplicate_slug_is_409(client: httpx.AsyncClient, feed: str) -> None:
    again = await client.post("/api/feeds", json={"slug": feed, "title": "x"}, headers=ADMIN)
    assert again.status_code == 409
    assert "already exists" in again.json()["detail"]


async def test_invalid_feed_fields_are_422_with_names(client: httpx.AsyncClient) -> None:
    cases = [
        ({"slug": "Bad Slug", "title": "x"}, "slug"),
        ({"slug": "ok", "title": ""}, "title"),
        ({"slug": "ok", "title": "x", "locale": "xx-nowhere"}, "locale"),
        ({"slug": "ok", "title": "x", "timezone": "Mars/Olympus"}, "timezone"),
        ({"slug": "ok", "title": "x", "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        response = await client.post("/api/feeds", json=body, headers=ADMIN)
        assert response.status_code == 422, body
        assert field in response.json()["detail"], response.json()


async def test_unknown_feed_is_404(client: httpx.AsyncClient) -> None:
    for path in ("/api/feeds/nope", "/api/feeds/nope/entries", "/api/feeds/nope/changes?since=0"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert "nope" in response.json()["detail"]


async def test_admin_calls_need_the_admin_token(client: httpx.AsyncClient, feed: str) -> None:
    missing = await client.post("/api/feeds", json={"slug": "a", "title": "a"})
    assert missing.status_code == 401
    bad = await client.post(
        "/api/feeds", json={"slug": "a", "title": "a"}, headers={"Authorization": "Bearer nope"}
    )
    assert bad.status_code == 401
    token = (
        await client.post(f"/api/feeds/{feed}/tokens", json={"name": "ana"}, headers=ADMIN)
    ).json()
    reporter = {"Authorization": f"Bearer {token['token']}"}
    forbidden = await client.post("/api/feeds", json={"slug": "a", "title": "a"}, headers=reporter)
    assert forbidden.status_code == 403
    # A reporter token is an editor of its feed (app/permissions.py): it may end it, not others.
    ended = await client.patch(f"/api/feeds/{feed}", json={"status": "ended"}, headers=reporter)
    assert ended.status_code == 200
    await client.post("/api/feeds", json={"slug": "other", "title": "o"}, headers=ADMIN)
    forbidden = await client.patch("/api/feeds/other", json={"status": "ended"}, headers=reporter)
    assert forbidden.status_code == 403


async def test_reporter_token_is_scoped_to_its_feed(client: httpx.AsyncClient, feed: str) -> None:
    other = await client.post("/api/feeds", json={"slug": "other", "title": "o"}, headers=ADMIN)
    assert other.status_code == 201
    created = await client.post(f"/api/feeds/{feed}/tokens", json={"name": "ana"}, headers=ADMIN)
    assert created.status_code == 201
    token = created.json()["token"]
    assert token.startswith("lf_") and len(token) > 40
    reporter = {"Authorization": f"Bearer {token}"}
    own = await client.post(f"/api/feeds/{feed}/entries", json={"body": "ok"}, headers=reporter)
    assert own.status_code == 201
    elsewhere = await client.post("/api/feeds/other/entries", json={"body": "no"}, headers=reporter)
    assert elsewhere.status_code == 403
    assert "other" in elsewhere.json()["detail"]


async def test_tokens_are_stored_only_as_hashes(
    client: httpx.AsyncClient, app: object, feed: str
) -> None:
    from sqlalchemy import select

    from app.store.tables import tokens

    token = (await client.post(f"/api/feeds/{feed}/tokens", headers=ADMIN)).json()["token"]
    store = app.state.livefeed.store  # type: ignore[attr-defined]
    async with store.engine.connect() as conn:
        stored = (await conn.execute(select(tokens.c.token_hash))).scalars().all()
    assert token not in stored
    assert all(len(value) == 64 for value in stored)


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}


async def test_openapi_and_docs_are_served(client: httpx.AsyncClient) -> None:
    spec = await client.get("/openapi.json")
    assert spec.status_code == 200
    assert "/api/feeds/{slug}/entries" in spec.json()["paths"]
    assert (await client.get("/docs")).status_code == 200
