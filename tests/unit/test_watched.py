"""Watched feeds (app/watched.py) over a real hub with a fake store and broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.hub import Event, Hub
from app.watched import FeedWatcher, WatchedFeeds
from tests.unit.hub_fakes import FakeBroker, FakeStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store() -> FakeStore:
    store = FakeStore()
    store.add_feed("f")
    return store


@pytest.fixture
async def hub(store: FakeStore) -> AsyncIterator[Hub]:
    hub = Hub(store, FakeBroker(), store_poll_seconds=3600, resync_seconds=3600)  # type: ignore[arg-type]
    await hub.start()
    yield hub
    await hub.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def watched(store: FakeStore, hub: Hub, clock: Clock) -> WatchedFeeds:
    return WatchedFeeds(store, hub, asyncio.Event(), clock=clock)  # type: ignore[arg-type]


async def test_a_watcher_detached_by_a_failing_delivery_is_not_served_frozen(
    watched: WatchedFeeds, hub: Hub, store: FakeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by reading: the hub detaches a subscriber whose deliver raises. A watcher
    left in the map afterwards answered every later lookup (and the page cache) with the
    rev it had then, forever."""
    first = await watched.current("f")
    assert first is not None and first.rev == 0

    def broken(self: FeedWatcher, event: Event) -> None:
        raise RuntimeError("could not read the event")

    with monkeypatch.context() as patch:
        patch.setattr(FeedWatcher, "deliver", broken)
        await hub.publish([store.commit("f")])
    await hub.publish([store.commit("f")])

    now = await watched.current("f")
    assert now is not None and now.rev == 2
    watcher = watched.get("f")
    assert watcher is not None and watcher.rev == 2  # what the page fast path reads
    await hub.publish([store.commit("f")])
    assert watcher.rev == 3  # and it follows the feed again


async def test_feed_changes_update_the_record_entry_changes_the_rev(
    watched: WatchedFeeds, hub: Hub, store: FakeStore
) -> None:
    await watched.current("f")
    await hub.publish([store.commit("f")])
    await hub.publish([store.commit_feed_change("f", "Renamed")])
    reads = store.get_feed_calls
    feed = await watched.current("f")
    assert feed is not None and (feed.rev, feed.title) == (2, "Renamed")
    assert store.get_feed_calls == reads  # answered from the copy


async def test_concurrent_lookups_of_an_unwatched_feed_read_the_store_once(
    watched: WatchedFeeds, store: FakeStore
) -> None:
    feeds = await asyncio.gather(*(watched.current("f") for _ in range(200)))
    assert all(f is not None and f.rev == 0 for f in feeds)
    assert store.get_feed_calls == 2  # the read, and the re-read once attached
    assert store.current_rev_calls == 1  # one hub channel
    assert await watched.current("nope") is None


async def test_idle_watchers_without_readers_are_detached_and_come_back_current(
    watched: WatchedFeeds, hub: Hub, store: FakeStore, clock: Clock
) -> None:
    store.add_feed("g")
    await watched.current("f")
    clock.now += watched.sweep_seconds + 1
    await watched.current("g")  # a sweep, but f is not idle long enough yet
    assert "f" in watched
    clock.now += watched.idle_seconds + 1
    await watched.current("g")
    assert "f" not in watched
    assert hub.subscriber_count("f") == 0 and "f" not in hub._channels
    store.commit("f")
    again = await watched.current("f")
    assert again is not None and again.rev == 1


async def test_a_draining_process_watches_nothing_new(store: FakeStore, hub: Hub) -> None:
    draining = asyncio.Event()
    draining.set()
    watched = WatchedFeeds(store, hub, draining)  # type: ignore[arg-type]
    feed = await watched.current("f")
    assert feed is not None and "f" not in watched


async def test_the_drain_close_drops_the_watcher(watched: WatchedFeeds, hub: Hub) -> None:
    await watched.current("f")
    hub.close_all(1012, "draining")
    assert "f" not in watched
