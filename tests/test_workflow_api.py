"""The entry lifecycle over HTTP, on SQLite and PostgreSQL: statuses and transitions, what
reaches the public change log (nothing unpublished), revisions and their restore, soft
delete and its restore, and scheduled publishing in one process (the several-process proof
is tests/test_workflow_scheduler.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import ADMIN
from tests.support.services import wait_until_async


async def post(client: httpx.AsyncClient, feed: str, **fields: Any) -> dict[str, Any]:
    response = await client.post(f"/api/feeds/{feed}/entries", json=fields, headers=ADMIN)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def call(
    client: httpx.AsyncClient, method: str, path: str, status: int = 200, **kw: Any
) -> Any:
    response = await client.request(method, path, headers=ADMIN, **kw)
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def changes(client: httpx.AsyncClient, feed: str, since: int = 0) -> list[dict[str, Any]]:
    body = (await client.get(f"/api/feeds/{feed}/changes", params={"since": since})).json()
    events: list[dict[str, Any]] = body["events"]
    return events


async def public_ids(client: httpx.AsyncClient, feed: str) -> list[int]:
    page = (await client.get(f"/api/feeds/{feed}/entries")).json()
    return [e["id"] for e in page["entries"]]


def soon(seconds: float = 3600) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def test_unpublished_statuses_log_nothing_public(
    client: httpx.AsyncClient, feed: str
) -> None:
    public = await post(client, feed, body="public")
    draft = await post(client, feed, body="draft text", status="draft")
    submitted = await post(client, feed, body="for review", status="submitted")
    scheduled = await post(client, feed, body="later", status="scheduled", publish_at=soon())
    assert (draft["status"], draft["rev"]) == ("draft", 0)
    assert submitted["status"] == "submitted"
    assert scheduled["status"] == "scheduled" and scheduled["publish_at"] is not None
    # Edits and deletes of unpublished entries take no rev either.
    await call(client, "PATCH", f"/api/feeds/{feed}/entries/{draft['id']}", json={"body": "v2"})
    await call(client, "DELETE", f"/api/feeds/{feed}/entries/{submitted['id']}", 204)
    feed_now = (await client.get(f"/api/feeds/{feed}")).json()
    assert feed_now["rev"] == public["rev"] == 1
    assert [e["entry"]["id"] for e in await changes(client, feed)] == [public["id"]]
    assert await public_ids(client, feed) == [public["id"]]
    for entry in (draft, submitted, scheduled):
        one = await client.get(f"/api/feeds/{feed}/entries/{entry['id']}")
        assert one.status_code == 404, one.text
    # The team lists them (a token is needed: 401 without, 403 with another feed's).
    team = await call(
        client, "GET", f"/api/feeds/{feed}/entries", params={"status": "draft,scheduled"}
    )
    assert sorted(e["id"] for e in team["entries"]) == [draft["id"], scheduled["id"]]
    assert {e["id"]: e["body"] for e in team["entries"]}[draft["id"]] == "v2"
    anonymous = await client.get(f"/api/feeds/{feed}/entries", params={"status": "draft"})
    assert anonymous.status_code == 401
    bad = await client.get(f"/api/feeds/{feed}/entries", params={"status": "secret"}, headers=ADMIN)
    assert bad.status_code == 422


async def test_publish_logs_a_creation_and_unpublish_a_removal(
    client: httpx.AsyncClient, feed: str
) -> None:
    draft = await post(client, feed, body="draft", status="draft", pinned=True)
    pinned_before = await post(client, feed, body="pinned", pinned=True)  # rev 1
    submitted = await call(client, "POST", f"/api/feeds/{feed}/entries/{draft['id']}/submit")
    assert submitted["status"] == "submitted"
    published = await call(client, "POST", f"/api/feeds/{feed}/entries/{draft['id']}/publish")
    assert published["status"] == "published" and published["pinned"] is True
    # Publishing a pinned draft unpins the pinned entry first (rev 2), then creates (rev 3).
    events = await changes(client, feed, since=1)
    assert [(e["op"], e["entry"]["id"], e["rev"]) for e in events] == [
        ("updated", pinned_before["id"], 2),
        ("created", draft["id"], 3),
    ]
    assert events[1]["entry"]["body"] == "draft" and events[1]["entry"]["status"] == "published"
    # Illegal moves: 409, naming the statuses.
    for route in ("submit", "schedule"):
        kw = {"json": {"publish_at": soon()}} if route == "schedule" else {}
        refused = await client.post(
            f"/api/feeds/{feed}/entries/{draft['id']}/{route}", headers=ADMIN, **kw
        )
        assert refused.status_code == 409, refused.text
        assert "from published to" in refused.json()["detail"]
    again = await call(client, "POST", f"/api/feeds/{feed}/entries/{draft['id']}/publish")
    assert again["rev"] == 3  # publishing twice changes nothing
    unpublished = await call(client, "POST", f"/api/feeds/{feed}/entries/{draft['id']}/unpublish")
    assert unpublished["status"] == "draft" and unpublished["body"] == "draft"
    removal = (await changes(client, feed, since=3))[0]
    assert removal["op"] == "deleted" and removal["entry"]["deleted"] is True
    assert removal["entry"]["body"] == "" and removal["entry"]["html"] == ""
    assert await public_ids(client, feed) == [pinned_before["id"]]
    assert (await client.get(f"/api/feeds/{feed}/entries/{draft['id']}")).status_code == 404


async def test_schedule_rules(client: httpx.AsyncClient, feed: str) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    for fields in (
        {"status": "scheduled", "publish_at": past},
        {"status": "scheduled"},
        {"status": "draft", "publish_at": soon()},
        {"status": "gone"},
    ):
        response = await client.post(
            f"/api/feeds/{feed}/entries", json={"body": "x", **fields}, headers=ADMIN
        )
        assert response.status_code == 422, (fields, response.text)
    draft = await post(client, feed, body="x", status="draft")
    path = f"/api/feeds/{feed}/entries/{draft['id']}"
    late = await client.post(f"{path}/schedule", json={"publish_at": past}, headers=ADMIN)
    assert late.status_code == 422 and "future" in late.text
    later = soon(7200)
    scheduled = await call(client, "POST", f"{path}/schedule", json={"publish_at": later})
    assert scheduled["status"] == "scheduled"
    assert datetime.fromisoformat(scheduled["publish_at"]) == datetime.fromisoformat(later)
    # PATCH with publish_at alone moves the time; draft takes it back (and clears it).
    moved = await call(client, "PATCH", path, json={"publish_at": soon(60)})
    assert moved["status"] == "scheduled" and moved["publish_at"] != scheduled["publish_at"]
    back = await call(client, "PATCH", path, json={"status": "draft"})
    assert (back["status"], back["publish_at"]) == ("draft", None)
    assert (await client.get(f"/api/feeds/{feed}")).json()["rev"] == 0


async def test_alt_text_is_needed_to_publish_not_to_draft(
    client: httpx.AsyncClient, feed: str
) -> None:
    from tests.media_support import png_with_alpha

    uploaded = await client.post(
        f"/api/feeds/{feed}/media",
        files={"file": ("a.png", png_with_alpha(), "image/png")},
        headers=ADMIN,
    )
    assert uploaded.status_code == 201, uploaded.text
    media_id = uploaded.json()["id"]
    draft = await post(client, feed, body="photo", status="draft", media=[media_id])
    path = f"/api/feeds/{feed}/entries/{draft['id']}"
    refused = await client.post(f"{path}/publish", headers=ADMIN)
    assert refused.status_code == 422 and "alt text" in refused.text
    refused = await client.post(f"{path}/schedule", json={"publish_at": soon()}, headers=ADMIN)
    assert refused.status_code == 422
    fixed = await call(client, "PATCH", path, json={"media": [{"id": media_id, "alt": "A"}]})
    assert fixed["status"] == "draft"
    assert (await call(client, "POST", f"{path}/publish"))["status"] == "published"


async def test_edits_of_published_entries_keep_revisions(
    client: httpx.AsyncClient, feed: str
) -> None:
    entry = await post(client, feed, body="first", author="Ana")
    path = f"/api/feeds/{feed}/entries/{entry['id']}"
    assert entry["edited_at"] is None and entry["revisions"] == 0
    pinned = await call(client, "PATCH", path, json={"pinned": True})
    assert pinned["edited_at"] is None and pinned["revisions"] == 0  # not a content edit
    second = await call(client, "PATCH", path, json={"body": "second"})
    assert second["edited_at"] is not None and second["revisions"] == 1
    third = await call(client, "PATCH", path, json={"body": "third", "author": "Bo"})
    assert third["revisions"] == 2
    revisions = await call(client, "GET", f"{path}/revisions")
    assert [(r["number"], r["body"], r["author"], r["reason"]) for r in revisions] == [
        (1, "first", "Ana", "edit"),
        (2, "second", "Ana", "edit"),
    ]
    assert revisions[0]["html"] == "<p>first</p>"
    assert revisions[1]["written_by"] == "admin" and revisions[1]["replaced_by"] == "admin"
    assert revisions[0]["written_at"] == entry["published_at"]
    restored = await call(client, "POST", f"{path}/revisions/1/restore")
    assert (restored["body"], restored["author"], restored["revisions"]) == ("first", "Ana", 3)
    last = (await changes(client, feed, since=restored["rev"] - 1))[0]
    assert last["op"] == "updated" and last["entry"]["body"] == "first"
    history = await call(client, "GET", f"{path}/revisions")
    assert [(r["body"], r["reason"]) for r in history][-1] == ("third", "restore")
    missing = await client.post(f"{path}/revisions/9/restore", headers=ADMIN)
    assert missing.status_code == 404
    # Anonymous readers cannot read the history.
    assert (await client.get(f"{path}/revisions")).status_code == 401
    # A draft's edits keep no revisions and set no edited_at.
    draft = await post(client, feed, body="d1", status="draft")
    edited = await call(
        client, "PATCH", f"/api/feeds/{feed}/entries/{draft['id']}", json={"body": "d2"}
    )
    assert (edited["revisions"], edited["edited_at"]) == (0, None)


async def test_delete_is_soft_and_restorable(client: httpx.AsyncClient, feed: str) -> None:
    entry = await post(client, feed, body="kept **text**", key_event=True)
    draft = await post(client, feed, body="draft to bin", status="draft")
    path = f"/api/feeds/{feed}/entries/{entry['id']}"
    await call(client, "DELETE", path, 204)
    await call(client, "DELETE", f"/api/feeds/{feed}/entries/{draft['id']}", 204)
    tombstone = (await changes(client, feed, since=1))[0]
    assert tombstone["op"] == "deleted" and tombstone["entry"]["body"] == ""
    assert await public_ids(client, feed) == []
    deleted = await call(client, "GET", f"/api/feeds/{feed}/entries", params={"status": "deleted"})
    assert {e["id"]: e["body"] for e in deleted["entries"]} == {
        entry["id"]: "kept **text**",
        draft["id"]: "draft to bin",
    }
    assert (await client.patch(path, json={"body": "x"}, headers=ADMIN)).status_code == 404
    restored = await call(client, "POST", f"{path}/restore")
    assert restored["body"] == "kept **text**" and restored["deleted"] is False
    comeback = (await changes(client, feed, since=2))[0]
    assert comeback["op"] == "created" and comeback["entry"]["html"].startswith("<p>kept")
    assert await public_ids(client, feed) == [entry["id"]]
    assert (await client.post(f"{path}/restore", headers=ADMIN)).status_code == 409
    # A restored draft stays a draft: nothing public.
    rev = (await client.get(f"/api/feeds/{feed}")).json()["rev"]
    back = await call(client, "POST", f"/api/feeds/{feed}/entries/{draft['id']}/restore")
    assert back["status"] == "draft"
    assert (await client.get(f"/api/feeds/{feed}")).json()["rev"] == rev


async def test_idempotent_draft_creation(client: httpx.AsyncClient, feed: str) -> None:
    headers = {**ADMIN, "Idempotency-Key": "k1"}
    first = await client.post(
        f"/api/feeds/{feed}/entries", json={"body": "d", "status": "draft"}, headers=headers
    )
    again = await client.post(
        f"/api/feeds/{feed}/entries", json={"body": "d", "status": "draft"}, headers=headers
    )
    assert first.status_code == again.status_code == 201
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert first.json() == again.json()


@pytest.mark.parametrize("route", ["submit", "publish", "unpublish", "restore"])
async def test_transitions_need_a_token_of_the_feed(
    client: httpx.AsyncClient, feed: str, route: str
) -> None:
    draft = await post(client, feed, body="x", status="draft")
    path = f"/api/feeds/{feed}/entries/{draft['id']}/{route}"
    assert (await client.post(path)).status_code == 401
    assert (
        await client.post(f"/api/feeds/{feed}/entries/999/{route}", headers=ADMIN)
    ).status_code == 404


async def test_scheduled_entry_publishes_itself(client: httpx.AsyncClient, feed: str) -> None:
    """The app's scheduler task (interval 1 s) publishes a due entry once, by itself."""
    due = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    entry = await post(client, feed, body="on time", status="scheduled", publish_at=due)

    async def published() -> bool:
        return await public_ids(client, feed) == [entry["id"]]

    await wait_until_async(published, timeout=20, message="the scheduled entry published")
    events = await changes(client, feed)
    assert [(e["op"], e["entry"]["id"]) for e in events] == [("created", entry["id"])]
    assert events[0]["entry"]["status"] == "published"
    assert events[0]["entry"]["publish_at"] is None


async def test_revisions_name_the_editor_accounts(
    app: FastAPI, client: httpx.AsyncClient, feed: str
) -> None:
    """Each kept version records the account that wrote it and the one that replaced it."""
    from tests.test_accounts import make_user, signed_in

    ana = await make_user(client, "ana@example.org", "editor", feed=feed, name="Ana")
    bo = await make_user(client, "bo@example.org", "editor", feed=feed, name="Bo")
    async with signed_in(app, "ana@example.org") as as_ana:
        created = await as_ana.post(f"/api/feeds/{feed}/entries", json={"body": "by Ana"})
        assert created.status_code == 201, created.text
    path = f"/api/feeds/{feed}/entries/{created.json()['id']}"
    async with signed_in(app, "bo@example.org") as as_bo:
        assert (await as_bo.patch(path, json={"body": "by Bo"})).status_code == 200
    await call(client, "PATCH", path, json={"body": "by the admin token"})
    revisions = await call(client, "GET", f"{path}/revisions")
    assert [
        (r["body"], r["written_by_id"], r["replaced_by_id"], r["replaced_by"]) for r in revisions
    ] == [("by Ana", ana["id"], bo["id"], "Bo"), ("by Bo", bo["id"], None, "admin")]
