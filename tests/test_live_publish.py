"""Every change a write logs is returned by the store and published (SQLite and
PostgreSQL): pinning an entry also logs the unpin of the previous one, and readers get
both from the writer's own publish, not from a gap fill of the change log."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from app.events import UNSEQUENCED
from app.hub import Event
from tests.conftest import ADMIN


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[int, str]] = []

    def deliver(self, event: Event) -> None:
        if event.rev == UNSEQUENCED:
            # The live reader count: pushed whenever the feed's count changes (this sink is a
            # reader), at any moment; not a change of the log.
            assert event.payload.startswith(b'{"type":"readers"'), event.payload
            return
        self.events.append((event.rev, event.kind))

    def close(self, code: int, reason: str) -> None:
        pass


async def test_a_pin_publishes_the_unpin_too(
    app: FastAPI, client: httpx.AsyncClient, feed: str
) -> None:
    hub = app.state.livefeed.hub
    sink = Sink()
    assert await hub.attach(feed, sink) == 0
    url = f"/api/feeds/{feed}/entries"
    first = await client.post(url, json={"body": "one", "pinned": True}, headers=ADMIN)
    second = await client.post(url, json={"body": "two", "pinned": True}, headers=ADMIN)
    assert (first.status_code, second.status_code) == (201, 201)
    plain = await client.post(url, json={"body": "three"}, headers=ADMIN)
    edit = await client.patch(f"{url}/{plain.json()['id']}", json={"pinned": True}, headers=ADMIN)
    assert edit.status_code == 200
    # 1 one created · 2 one unpinned · 3 two created · 4 three created · 5 two unpinned ·
    # 6 three pinned — each delivered by the writer's publish, none read back from the log.
    assert [rev for rev, _kind in sink.events] == [1, 2, 3, 4, 5, 6]
    assert edit.json()["rev"] == 6
    assert hub.catchups == 0, "a rev was missing from the publish and gap-filled instead"
    hub.detach(feed, sink)
