"""Feeds are isolated: an entry id or a page cursor of one feed means nothing through
another feed's URL (404 / 400, and nothing of the other feed is read, changed or deleted),
on SQLite and PostgreSQL alike."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.conftest import ADMIN


async def make_feed(
    client: httpx.AsyncClient, slug: str, bodies: list[str]
) -> list[dict[str, Any]]:
    created = await client.post("/api/feeds", json={"slug": slug, "title": slug}, headers=ADMIN)
    assert created.status_code == 201, created.text
    entries = []
    for body in bodies:
        response = await client.post(
            f"/api/feeds/{slug}/entries", json={"body": body}, headers=ADMIN
        )
        assert response.status_code == 201, response.text
        entries.append(response.json())
    return entries


async def snapshot(client: httpx.AsyncClient, slug: str) -> tuple[int, list[dict[str, Any]]]:
    page = (await client.get(f"/api/feeds/{slug}/entries?limit=200")).json()
    return page["rev"], page["entries"]


async def test_another_feeds_entry_id_is_not_found_through_this_feed(
    client: httpx.AsyncClient,
) -> None:
    a = await make_feed(client, "feed-a", ["a1", "a2"])
    b = await make_feed(client, "feed-b", ["b1", "b2"])
    b_before = await snapshot(client, "feed-b")
    a_before = await snapshot(client, "feed-a")
    foreign = b[0]["id"]
    assert foreign not in {e["id"] for e in a}

    got = await client.get(f"/api/feeds/feed-a/entries/{foreign}")
    assert got.status_code == 404, got.text
    patched = await client.patch(
        f"/api/feeds/feed-a/entries/{foreign}", json={"body": "hijacked"}, headers=ADMIN
    )
    assert patched.status_code == 404, patched.text
    pinned = await client.patch(
        f"/api/feeds/feed-a/entries/{foreign}", json={"pinned": True}, headers=ADMIN
    )
    assert pinned.status_code == 404, pinned.text
    deleted = await client.delete(f"/api/feeds/feed-a/entries/{foreign}", headers=ADMIN)
    assert deleted.status_code == 404, deleted.text

    # Nothing of either feed changed: same rev, same entries (B's entry still "b1").
    assert await snapshot(client, "feed-b") == b_before
    assert await snapshot(client, "feed-a") == a_before
    own = await client.get(f"/api/feeds/feed-b/entries/{foreign}")
    assert own.status_code == 200 and own.json()["body"] == "b1"


async def test_a_page_cursor_of_another_feed_is_refused(client: httpx.AsyncClient) -> None:
    await make_feed(client, "feed-a", [f"a{n}" for n in range(5)])
    b = await make_feed(client, "feed-b", [f"b{n}" for n in range(5)])
    foreign = b[-1]["id"]  # B's newest: a cursor that would sort after some of A's ids

    api = await client.get(f"/api/feeds/feed-a/entries?limit=2&before={foreign}")
    assert api.status_code == 400, api.text
    assert f"before={foreign}" in api.json()["detail"] and "feed-a" in api.json()["detail"]
    page = await client.get(f"/feeds/feed-a?before={foreign}")
    assert page.status_code == 404, page.status_code
    # Whole words: an asset URL's version digest may hold "a4" by chance.
    assert not re.search(r"\b[ab]4\b", page.text)

    # A's own cursor pages through A only.
    first = (await client.get("/api/feeds/feed-a/entries?limit=2")).json()
    second = (
        await client.get(f"/api/feeds/feed-a/entries?limit=2&before={first['next_before']}")
    ).json()
    bodies = [e["body"] for e in first["entries"] + second["entries"]]
    assert bodies == ["a4", "a3", "a2", "a1"]
