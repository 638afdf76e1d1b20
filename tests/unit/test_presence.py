"""Reader counts through the hub, tick by tick (no timers, no services): the count readers
are handed stays right when a feed's channel is recreated — every reader leaves and others
come back between two ticks — and when a feed watcher keeps the channel while readers leave
and return. A big audience hears of a change under 1 % a few intervals later, not at once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from app.hub import Event, Hub
from app.presence import SMALL_CHANGE_INTERVALS, LocalCounts, ReaderPresence
from tests.unit.hub_fakes import FakeBroker, FakeStore


class Reader:
    """A connection recording the reader counts it is handed."""

    def __init__(self) -> None:
        self.counts: list[int] = []

    def deliver(self, event: Event) -> None:
        data = json.loads(event.payload)
        if data["type"] == "readers":
            self.counts.append(data["count"])

    def close(self, code: int, reason: str) -> None:
        raise AssertionError(f"closed {code} {reason}")

    @property
    def count(self) -> int | None:
        return self.counts[-1] if self.counts else None


class Watcher(Reader):
    """A feed watcher (app.watched): follows the feed, is not a reader."""

    is_reader = False


@pytest.fixture
async def hub() -> AsyncIterator[Hub]:
    store = FakeStore()
    store.add_feed("f")
    hub = Hub(store, FakeBroker(), store_poll_seconds=3600, resync_seconds=3600)  # type: ignore[arg-type]
    await hub.start()
    yield hub
    await hub.stop()


async def test_readers_of_a_recreated_channel_get_the_count(hub: Hub) -> None:
    presence = ReaderPresence(hub, LocalCounts(), interval=1.0)
    first = [Reader(), Reader()]
    for reader in first:
        await hub.attach("f", reader)
    await presence.tick()
    assert [r.count for r in first] == [2, 2]
    # Every reader leaves (the channel goes) and as many come back before the next tick:
    # the total is unchanged, but the new channel's readers have never been told it.
    for reader in first:
        hub.detach("f", reader)
    back = [Reader(), Reader()]
    for reader in back:
        await hub.attach("f", reader)
    await presence.tick()
    assert [r.count for r in back] == [2, 2]
    # …and one more reader of that channel gets it at once, as any newcomer does.
    late = Reader()
    await hub.attach("f", late)
    assert late.counts == [2]
    await presence.tick()
    assert [r.count for r in [*back, late]] == [3, 3, 3]


async def test_a_watcher_keeping_the_channel_does_not_hand_returning_readers_a_stale_count(
    hub: Hub,
) -> None:
    presence = ReaderPresence(hub, LocalCounts(), interval=1.0)
    watcher = Watcher()
    await hub.attach("f", watcher)
    readers = [Reader(), Reader(), Reader()]
    for reader in readers:
        await hub.attach("f", reader)
    await presence.tick()
    assert [r.count for r in readers] == [3, 3, 3] and watcher.counts == []
    for reader in readers:
        hub.detach("f", reader)
    await presence.tick()  # this process now reports no reader of "f"
    returning = Reader()
    await hub.attach("f", returning)
    assert returning.counts == [], "the count of readers who left is not the count now"
    await presence.tick()
    assert returning.counts == [1] and watcher.counts == []
    # The watcher detaches and re-attaches (the channel goes and comes back): still right.
    hub.detach("f", watcher)
    await hub.attach("f", watcher)
    other = Reader()
    await hub.attach("f", other)
    await presence.tick()
    assert returning.count == 2 and other.count == 2 and watcher.counts == []


async def test_a_big_audience_hears_of_small_changes_a_few_intervals_later(hub: Hub) -> None:
    presence = ReaderPresence(hub, LocalCounts(), interval=1.0)
    readers = [Reader() for _ in range(150)]
    for reader in readers:
        await hub.attach("f", reader)
    await presence.tick()
    assert {r.count for r in readers} == {150}
    one_more = Reader()
    await hub.attach("f", one_more)  # under 1 % of 150: waits
    assert one_more.counts == [150]
    for _ in range(SMALL_CHANGE_INTERVALS - 1):
        await presence.tick()
    assert len(readers[0].counts) == 1, "a 1-in-150 change is not announced at once"
    await presence.tick()
    assert {r.count for r in [*readers, one_more]} == {151}
    # 1 % or more: at the next report. Back to the told count: nothing to send.
    two = [Reader(), Reader()]
    for reader in two:
        await hub.attach("f", reader)
    await presence.tick()
    assert readers[0].counts == [150, 151, 153]
    for reader in two:
        hub.detach("f", reader)
    await presence.tick()
    assert readers[0].count == 151  # 2 of 153 is over 1 %: at once
    hub.detach("f", one_more)
    await presence.tick()
    await hub.attach("f", Reader())  # 151 again before the 150 was announced
    for _ in range(SMALL_CHANGE_INTERVALS):
        await presence.tick()
    assert readers[0].counts == [150, 151, 153, 151], "no event when the count came back"
