"""Entries, revisions, paging and the change log over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.main import create_app
from tests.conftest import ADMIN, ADMIN_TOKEN


async def post(client: httpx.AsyncClient, feed: str, **fields: Any) -> dict[str, Any]:
    response = await client.post(f"/api/feeds/{feed}/entries", json=fields, headers=ADMIN)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_post_renders_and_sanitizes_markdown(client: httpx.AsyncClient, feed: str) -> None:
    entry = await post(
        client,
        feed,
        body='**Vote** <script>alert(1)</script><img src="x.png" onerror="alert(2)"> '
        "[lien](javascript:alert(3)) https://example.org",
        author="Ana",
    )
    assert entry["body"].startswith("**Vote**")
    html = entry["html"]
    assert "<strong>Vote</strong>" in html
    assert "<script" not in html and "onerror" not in html and 'href="javascript' not in html
    assert '<a href="https://example.org" rel="noopener noreferrer nofollow ugc">' in html
    assert entry["author"] == "Ana"
    assert entry["rev"] == 1 and entry["feed"] == feed
    assert entry["deleted"] is False and entry["has_time"] is True
    # Times carry the feed's UTC offset (Europe/Paris).
    assert entry["published_at"][-6:] in {"+01:00", "+02:00"}


async def test_revisions_are_gap_free_across_every_kind_of_change(
    client: httpx.AsyncClient, feed: str
) -> None:
    first = await post(client, feed, body="one")
    second = await post(client, feed, body="two", pinned=True)
    edited = await client.patch(
        f"/api/feeds/{feed}/entries/{first['id']}", json={"body": "one, edited"}, headers=ADMIN
    )
    assert edited.status_code == 200 and edited.json()["rev"] == 3
    # Pinning the first unpins the second: both are changes with their own revs.
    pinned = await client.patch(
        f"/api/feeds/{feed}/entries/{first['id']}", json={"pinned": True}, headers=ADMIN
    )
    assert pinned.json()["pinned"] is True and pinned.json()["rev"] == 5
    deleted = await client.delete(f"/api/feeds/{feed}/entries/{second['id']}", headers=ADMIN)
    assert deleted.status_code == 204
    await client.patch(f"/api/feeds/{feed}", json={"status": "ended"}, headers=ADMIN)

    changes = (await client.get(f"/api/feeds/{feed}/changes", params={"since": 0})).json()
    revs = [event["rev"] for event in changes["events"]]
    assert revs == [1, 2, 3, 4, 5, 6, 7]
    assert changes["rev"] == 7
    kinds = [(e["type"], e.get("op")) for e in changes["events"]]
    assert kinds == [
        ("entry", "created"),
        ("entry", "created"),
        ("entry", "updated"),
        ("entry", "updated"),  # second unpinned
        ("entry", "updated"),  # first pinned
        ("entry", "deleted"),
        ("feed", None),
    ]
    assert changes["events"][3]["entry"]["id"] == second["id"]
    assert changes["events"][3]["entry"]["pinned"] is False
    tail = (await client.get(f"/api/feeds/{feed}/changes", params={"since": 5})).json()
    assert [e["rev"] for e in tail["events"]] == [6, 7]
    assert (await client.get(f"/api/feeds/{feed}")).json()["rev"] == 7


async def test_delete_hides_the_entry_and_is_idempotent(
    client: httpx.AsyncClient, feed: str
) -> None:
    entry = await post(client, feed, body="to be removed")
    url = f"/api/feeds/{feed}/entries/{entry['id']}"
    assert (await client.delete(url, headers=ADMIN)).status_code == 204
    assert (await client.delete(url, headers=ADMIN)).status_code == 204
    listing = (await client.get(f"/api/feeds/{feed}/entries")).json()
    assert listing["entries"] == []
    assert listing["rev"] == 2
    assert (await client.get(url)).status_code == 404
    edit = await client.patch(url, json={"body": "zombie"}, headers=ADMIN)
    assert edit.status_code == 404
    event = (await client.get(f"/api/feeds/{feed}/changes", params={"since": 1})).json()["events"][
        0
    ]
    assert event["op"] == "deleted" and event["entry"]["deleted"] is True
    assert event["entry"]["body"] == "" and event["entry"]["html"] == ""


async def test_edit_any_field(client: httpx.AsyncClient, feed: str) -> None:
    entry = await post(client, feed, body="draft")
    response = await client.patch(
        f"/api/feeds/{feed}/entries/{entry['id']}",
        json={
            "body": "*final*",
            "author": "Bea",
            "key_event": True,
            "published_at": "2021-06-24T09:30:00+02:00",
        },
        headers=ADMIN,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["html"] == "<p><em>final</em></p>"
    assert body["author"] == "Bea" and body["key_event"] is True
    assert body["published_at"] == "2021-06-24T09:30:00+02:00"
    assert body["updated_at"] > body["published_at"]


async def test_idempotency_key_returns_the_first_result(
    client: httpx.AsyncClient, feed: str
) -> None:
    headers = {**ADMIN, "Idempotency-Key": "draft-42"}
    url = f"/api/feeds/{feed}/entries"
    first = await client.post(url, json={"body": "once"}, headers=headers)
    again = await client.post(url, json={"body": "once"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    listing = (await client.get(url)).json()
    assert len(listing["entries"]) == 1 and listing["rev"] == 1
    different = await client.post(url, json={"body": "twice?"}, headers=headers)
    assert different.status_code == 409
    assert "Idempotency-Key" in different.json()["detail"]


async def test_concurrent_retries_with_one_key_create_one_entry(
    client: httpx.AsyncClient, feed: str
) -> None:
    headers = {**ADMIN, "Idempotency-Key": "burst"}
    responses = await asyncio.gather(
        *(
            client.post(f"/api/feeds/{feed}/entries", json={"body": "burst"}, headers=headers)
            for _ in range(8)
        )
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    listing = (await client.get(f"/api/feeds/{feed}/entries")).json()
    assert len(listing["entries"]) == 1 and listing["rev"] == 1


async def test_paging_newest_first_with_cursor(client: httpx.AsyncClient, feed: str) -> None:
    ids = [(await post(client, feed, body=f"entry {n}"))["id"] for n in range(7)]
    seen: list[int] = []
    before: int | None = None
    while True:
        params: dict[str, int] = {"limit": 3}
        if before is not None:
            params["before"] = before
        page = (await client.get(f"/api/feeds/{feed}/entries", params=params)).json()
        seen += [e["id"] for e in page["entries"]]
        assert page["rev"] == 7
        before = page["next_before"]
        if before is None:
            break
    assert seen == list(reversed(ids))


async def test_published_at_orders_the_timeline(client: httpx.AsyncClient, feed: str) -> None:
    late = await post(client, feed, body="late", published_at="2021-06-24T18:00:00+02:00")
    early = await post(client, feed, body="early", published_at="2021-06-24T08:00:00+02:00")
    listing = (await client.get(f"/api/feeds/{feed}/entries")).json()
    assert [e["id"] for e in listing["entries"]] == [late["id"], early["id"]]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("entries?limit=0", 422),
        ("entries?limit=100000", 422),
        ("entries?limit=abc", 422),
        ("entries?before=-1", 422),
        ("entries?before=999999", 400),
        ("changes", 422),
        ("changes?since=-4", 422),
        ("changes?since=x", 422),
    ],
)
async def test_bad_paging_parameters(
    client: httpx.AsyncClient, feed: str, path: str, expected: int
) -> None:
    response = await client.get(f"/api/feeds/{feed}/{path}")
    assert response.status_code == expected
    assert response.json()["detail"]


async def test_since_ahead_of_the_feed_yields_reset(client: httpx.AsyncClient, feed: str) -> None:
    await post(client, feed, body="x")
    body = (await client.get(f"/api/feeds/{feed}/changes", params={"since": 99})).json()
    assert body == {"rev": 1, "events": [{"type": "reset", "rev": 1}]}


@pytest.mark.parametrize(
    ("raw", "content_type", "expected", "needle"),
    [
        (b"{not json", "application/json", 400, "malformed JSON"),
        (b"", "application/json", 422, "body is required"),
        (b'{"body": ""}', "application/json", 422, "body"),
        (b'{"body": "   "}', "application/json", 422, "body"),
        (b'{"author": "x"}', "application/json", 422, "body"),
        (b'{"body": "x", "published_at": "yesterday"}', "application/json", 422, "published_at"),
        (
            b'{"body": "x", "published_at": "2021-06-24T09:30:00"}',
            "application/json",
            422,
            "offset",
        ),
        (b'{"body": "x", "pinned": "maybe"}', "application/json", 422, "pinned"),
        (b'["body"]', "application/json", 422, "valid dictionary"),
    ],
)
async def test_invalid_entry_bodies(
    client: httpx.AsyncClient, feed: str, raw: bytes, content_type: str, expected: int, needle: str
) -> None:
    response = await client.post(
        f"/api/feeds/{feed}/entries",
        content=raw,
        headers={**ADMIN, "Content-Type": content_type},
    )
    assert response.status_code == expected, response.text
    assert needle in response.json()["detail"]
    assert (await client.get(f"/api/feeds/{feed}")).json()["rev"] == 0


async def test_oversized_payloads_are_413(client: httpx.AsyncClient, feed: str) -> None:
    huge = await client.post(
        f"/api/feeds/{feed}/entries", json={"body": "x" * 300_000}, headers=ADMIN
    )
    assert huge.status_code == 413
    assert "limit" in huge.json()["detail"]
    long_body = await client.post(
        f"/api/feeds/{feed}/entries", json={"body": "é" * 60_000}, headers=ADMIN
    )
    assert long_body.status_code == 413
    assert "50000" in long_body.json()["detail"]

    async def chunks() -> Any:
        for _ in range(40):
            yield b"x" * 10_000

    chunked = await client.post(
        f"/api/feeds/{feed}/entries",
        content=chunks(),
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert chunked.status_code == 413
    assert (await client.get(f"/api/feeds/{feed}")).json()["rev"] == 0


async def test_unknown_entry_is_404(client: httpx.AsyncClient, feed: str) -> None:
    for method in ("PATCH", "DELETE"):
        response = await client.request(
            method, f"/api/feeds/{feed}/entries/4242", json={"body": "x"}, headers=ADMIN
        )
        assert response.status_code == 404
        assert "4242" in response.json()["detail"]


async def test_concurrent_writers_in_two_apps_get_unique_gap_free_revs(
    database_url: str, client: httpx.AsyncClient, feed: str
) -> None:
    """Two independent apps (separate engines and pools, as two processes would have)
    post concurrently: revs come out unique and gap-free, each with its logged event."""
    other = create_app(Settings(database_url=database_url, admin_token=ADMIN_TOKEN))
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://other") as second:
            clients: list[httpx.AsyncClient] = [client, second]

            async def write(n: int) -> int:
                response = await clients[n % 2].post(
                    f"/api/feeds/{feed}/entries", json={"body": f"n{n}"}, headers=ADMIN
                )
                assert response.status_code == 201, response.text
                rev: int = response.json()["rev"]
                return rev

            revs = await asyncio.gather(*(write(n) for n in range(60)))
    assert sorted(revs) == list(range(1, 61))
    changes = (await client.get(f"/api/feeds/{feed}/changes", params={"since": 0})).json()
    assert [e["rev"] for e in changes["events"]] == list(range(1, 61))
    listing = (await client.get(f"/api/feeds/{feed}/entries", params={"limit": 100})).json()
    assert len(listing["entries"]) == 60 and listing["rev"] == 60


async def test_no_500_for_weird_paths(client: httpx.AsyncClient, feed: str, app: FastAPI) -> None:
    for path in (
        f"/api/feeds/{feed}/entries/0",
        f"/api/feeds/{feed}/entries/999999999999999999999",
        "/api/feeds/UPPER",
        "/api/feeds/" + "a" * 300,
    ):
        response = await client.get(path)
        assert 400 <= response.status_code < 500, (path, response.status_code)


async def test_edit_racing_a_delete_never_resurrects_or_mislabels(
    database_url: str, client: httpx.AsyncClient, feed: str
) -> None:
    """An edit and a delete of the same entry, from two apps at once: the edit either
    lands before the delete (200) or finds the entry gone (404); the log never holds an
    ``updated`` event for a deleted entry."""
    other = create_app(Settings(database_url=database_url, admin_token=ADMIN_TOKEN))
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://other") as second:
            for n in range(25):
                entry = await post(client, feed, body=f"race {n}")
                url = f"/api/feeds/{feed}/entries/{entry['id']}"
                edit, delete = await asyncio.gather(
                    second.patch(url, json={"body": f"edited {n}"}, headers=ADMIN),
                    client.delete(url, headers=ADMIN),
                )
                assert edit.status_code in {200, 404}, edit.text
                assert delete.status_code == 204
    events = (await client.get(f"/api/feeds/{feed}/changes", params={"since": 0})).json()["events"]
    for event in events:
        assert event["entry"]["deleted"] is (event["op"] == "deleted"), event
    assert (await client.get(f"/api/feeds/{feed}/entries")).json()["entries"] == []
