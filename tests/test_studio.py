"""Studio API over HTTP (in-process app, SQLite and PostgreSQL): /studio, whoami, preview."""

from __future__ import annotations

import httpx

from app import templating
from tests.conftest import ADMIN


async def reporter_token(client: httpx.AsyncClient, feed: str) -> dict[str, str]:
    r = await client.post(f"/api/feeds/{feed}/tokens", json={"name": "Jane"}, headers=ADMIN)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def test_whoami(client: httpx.AsyncClient, feed: str) -> None:
    r = await client.get("/api/whoami", headers=ADMIN)
    fields = ("is_admin", "feed", "name")
    assert {k: r.json()[k] for k in fields} == {"is_admin": True, "feed": None, "name": "admin"}
    r = await client.get("/api/whoami", headers=await reporter_token(client, feed))
    assert {k: r.json()[k] for k in fields} == {"is_admin": False, "feed": feed, "name": "Jane"}
    assert (await client.get("/api/whoami")).status_code == 401
    bad = {"Authorization": "Bearer nope"}
    assert (await client.get("/api/whoami", headers=bad)).status_code == 401


async def test_preview_renders_like_a_published_entry(client: httpx.AsyncClient, feed: str) -> None:
    body = "**Bold** [link](javascript:alert(1)) <img src=x onerror=alert(1)>"
    r = await client.post("/api/preview", json={"body": body}, headers=ADMIN)
    assert r.status_code == 200, r.text
    html = r.json()["html"]
    assert "<strong>Bold</strong>" in html
    assert 'href="javascript' not in html and "onerror" not in html
    published = await client.post(f"/api/feeds/{feed}/entries", json={"body": body}, headers=ADMIN)
    assert published.json()["html"] == html


async def test_preview_needs_a_token_and_respects_the_size_limit(
    client: httpx.AsyncClient, feed: str
) -> None:
    assert (await client.post("/api/preview", json={"body": "x"})).status_code == 401
    headers = await reporter_token(client, feed)
    assert (
        await client.post("/api/preview", json={"body": "x"}, headers=headers)
    ).status_code == 200
    r = await client.post("/api/preview", json={"body": "x" * 50_001}, headers=headers)
    assert r.status_code == 413
    r = await client.post("/api/preview", json={"text": "x"}, headers=headers)
    assert r.status_code == 422


async def test_studio_page_is_a_static_shell_that_cannot_be_framed(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/studio")
    assert r.status_code == 200
    assert f'<script type="module" src="{templating.static_url("studio.js")}">' in r.text
    assert 'id="sd-token"' in r.text
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert "set-cookie" not in r.headers
