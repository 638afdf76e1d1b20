"""The hub's delivery guarantee with a fake broker and a fake store: in rev order, never
twice, gaps filled from the log — through duplicates, reordering, a detach during a gap
fill, a failing subscriber and a broker going down and up. Plus catch-up from the window."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.catchup import ReadBudget
from app.hub import CLOSE_DELIVERY_FAILED, Event, Hub
from tests.support.services import wait_until_async
from tests.unit.hub_fakes import FakeBroker, FakeStore


class Sink:
    """A subscriber recording the revs it was given (and any close)."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.revs: list[int] = []
        self.closed: tuple[int, str] | None = None
        self.fail_on = fail_on

    def deliver(self, event: Event) -> None:
        if event.rev == self.fail_on:
            raise RuntimeError("subscriber broke")
        self.revs.append(event.rev)

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


@pytest.fixture
def store() -> FakeStore:
    store = FakeStore()
    store.add_feed("f")
    return store


@pytest.fixture
async def broker() -> FakeBroker:
    return FakeBroker()


@pytest.fixture
async def hub(store: FakeStore, broker: FakeBroker) -> AsyncIterator[Hub]:
    # Long poll and resync: only the mechanism under test delivers.
    hub = Hub(store, broker, store_poll_seconds=3600, resync_seconds=3600)  # type: ignore[arg-type]
    await hub.start()
    yield hub
    await hub.stop()


async def test_in_order_changes_are_delivered_at_once_without_store_reads(
    hub: Hub, store: FakeStore, broker: FakeBroker
) -> None:
    sink = Sink()
    assert await hub.attach("f", sink) == 0
    for _ in range(3):
        broker.receive(store.commit("f"))
    assert sink.revs == [1, 2, 3]
    assert store.changes_since_calls == []


async def test_duplicates_and_stale_revs_are_dropped(
    hub: Hub, store: FakeStore, broker: FakeBroker
) -> None:
    sink = Sink()
    await hub.attach("f", sink)
    one, two = store.commit("f"), store.commit("f")
    for change in (one, one, two, one, two):
        broker.receive(change)
    await hub.publish([two])  # our own write, seen again through the broker
    assert sink.revs == [1, 2]


async def test_a_gap_is_filled_from_the_log_before_anything_newer(
    hub: Hub, store: FakeStore, broker: FakeBroker
) -> None:
    sink = Sink()
    await hub.attach("f", sink)
    changes = [store.commit("f") for _ in range(5)]
    broker.receive(changes[4])  # 1–4 were lost or are late
    broker.receive(changes[0])
    await wait_until_async(lambda: sink.revs == [1, 2, 3, 4, 5], 10)
    for change in changes:  # the late ones arrive after all
        broker.receive(change)
    assert sink.revs == [1, 2, 3, 4, 5]


async def test_a_gap_fill_pages_past_one_page(
    hub: Hub, store: FakeStore, broker: FakeBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.hub

    monkeypatch.setattr(app.hub, "FILL_PAGE", 3)
    sink = Sink()
    await hub.attach("f", sink)
    changes = [store.commit("f") for _ in range(10)]
    broker.receive(changes[-1])
    await wait_until_async(lambda: len(sink.revs) == 10, 10)
    assert sink.revs == list(range(1, 11))
    assert len(store.changes_since_calls) >= 4  # 10 events, 3 per page


async def test_a_subscriber_detached_during_a_gap_fill_gets_nothing_more(
    hub: Hub, store: FakeStore, broker: FakeBroker
) -> None:
    leaving, staying = Sink(), Sink()
    await hub.attach("f", leaving)
    await hub.attach("f", staying)
    store.gate = asyncio.Event()
    changes = [store.commit("f") for _ in range(3)]
    broker.receive(changes[2])  # gap: the fill blocks on the store
    await wait_until_async(lambda: store.changes_since_calls, 10)
    hub.detach("f", leaving)
    store.gate.set()
    await wait_until_async(lambda: staying.revs == [1, 2, 3], 10)
    assert leaving.revs == []


async def test_the_last_subscriber_leaving_during_a_gap_fill_stops_it(
    hub: Hub, store: FakeStore, broker: FakeBroker
) -> None:
    sink = Sink()
    await hub.attach("f", sink)
    store.gate = asyncio.Event()
    changes = [store.commit("f") for _ in range(3)]
    broker.receive(changes[2])
    await wait_until_async(lambda: store.changes_since_calls, 10)
    hub.detach("f", sink)
    store.gate.set()
    await wait_until_async(lambda: "f" not in broker.subscribed, 10)
    assert sink.revs == []
    assert hub.subscriber_count("f") == 0


async def test_a_failing_subscriber_is_detached_and_closed_and_the_others_keep_going(
    hub: Hub, store: FakeStore, broker: FakeBroker
) -> None:
    broken, fine = Sink(fail_on=2), Sink()
    await hub.attach("f", broken)
    await hub.attach("f", fine)
    for _ in range(3):
        broker.receive(store.commit("f"))
    assert fine.revs == [1, 2, 3]
    assert broken.revs == [1]
    assert broken.closed is not None and broken.closed[0] == CLOSE_DELIVERY_FAILED
    assert hub.subscriber_count("f") == 1


async def test_while_the_broker_is_down_polls_deliver_and_its_return_catches_up(
    store: FakeStore, broker: FakeBroker
) -> None:
    hub = Hub(store, broker, store_poll_seconds=3600, resync_seconds=3600)  # type: ignore[arg-type]
    await hub.start()
    try:
        sink = Sink()
        await hub.attach("f", sink)
        broker.set_connected(False)
        store.commit("f")  # written by another process; its message is lost
        store.commit("f")
        assert sink.revs == []
        broker.set_connected(True)  # reconnect: every feed is caught up once
        await wait_until_async(lambda: sink.revs == [1, 2], 10)
    finally:
        await hub.stop()


async def test_publish_delivers_and_announces_every_change_of_a_write(
    hub: Hub, store: FakeStore, broker: FakeBroker
) -> None:
    sink = Sink()
    await hub.attach("f", sink)
    unpin, pin = store.commit("f"), store.commit("f")  # one write that logged two revs
    await hub.publish([unpin, pin])
    assert sink.revs == [1, 2]
    assert [c.rev for c in broker.published] == [1, 2]
    assert store.changes_since_calls == []  # no gap to fill


async def test_a_broker_down_at_publish_is_logged_not_raised(
    hub: Hub, store: FakeStore, broker: FakeBroker
) -> None:
    sink = Sink()
    await hub.attach("f", sink)
    broker.set_connected(False)
    await hub.publish([store.commit("f")])
    assert sink.revs == [1]
    assert broker.published == []


# -- catch-up -----------------------------------------------------------------------------


async def test_catch_up_within_the_window_reads_nothing(
    hub: Hub, store: FakeStore, broker: FakeBroker
) -> None:
    watcher = Sink()
    await hub.attach("f", watcher)
    for _ in range(10):
        await hub.publish([store.commit("f")])
    reader = Sink()
    current = await hub.attach("f", reader)
    assert current == 10
    reads = (len(store.changes_since_calls), store.current_rev_calls)
    assert [e.rev for e in await hub.catch_up("f", 4, current)] == [5, 6, 7, 8, 9, 10]
    assert (len(store.changes_since_calls), store.current_rev_calls) == reads


async def test_after_a_restart_a_storm_of_resuming_readers_reads_the_log_once(
    store: FakeStore, broker: FakeBroker
) -> None:
    for _ in range(30):
        store.commit("f")  # written before this "process" started
    hub = Hub(store, broker, store_poll_seconds=3600, resync_seconds=3600)  # type: ignore[arg-type]
    await hub.start()
    try:
        store.gate = asyncio.Event()

        async def resume(since: int) -> list[int]:
            reader = Sink()
            current = await hub.attach("f", reader)
            return [e.rev for e in await hub.catch_up("f", since, current)]

        readers = [asyncio.ensure_future(resume(25)) for _ in range(500)]
        await wait_until_async(lambda: store.changes_since_calls, 10)
        store.gate.set()
        assert all(r == [26, 27, 28, 29, 30] for r in await asyncio.gather(*readers))
        assert len(store.changes_since_calls) == 1
        assert store.current_rev_calls == 1  # one channel, created once
    finally:
        await hub.stop()


async def test_gap_filled_events_land_in_the_window_too(
    hub: Hub, store: FakeStore, broker: FakeBroker
) -> None:
    sink = Sink()
    await hub.attach("f", sink)
    changes = [store.commit("f") for _ in range(4)]
    broker.receive(changes[-1])
    await wait_until_async(lambda: sink.revs == [1, 2, 3, 4], 10)
    reads = len(store.changes_since_calls)
    assert [e.rev for e in await hub.catch_up("f", 0, 4)] == [1, 2, 3, 4]
    assert len(store.changes_since_calls) == reads


async def test_catch_up_over_budget_raises_for_the_reader_to_retry(
    store: FakeStore, broker: FakeBroker
) -> None:
    from app.catchup import CatchupOverloaded

    for _ in range(5):
        store.commit("f")
    budget = ReadBudget(slots=1, wait_seconds=0.01)
    hub = Hub(store, broker, read_budget=budget, resync_seconds=3600)  # type: ignore[arg-type]
    await hub.start()
    try:
        current = await hub.attach("f", Sink())
        async with budget.slot():
            with pytest.raises(CatchupOverloaded):
                await hub.catch_up("f", 1, current)
        assert [e.rev for e in await hub.catch_up("f", 1, current)] == [2, 3, 4, 5]
    finally:
        await hub.stop()


async def test_catch_up_reads_and_refusals_are_exported_as_metrics(
    store: FakeStore, broker: FakeBroker
) -> None:
    from types import SimpleNamespace

    from app.catchup import CatchupOverloaded
    from app.metrics import Metrics

    for _ in range(5):
        store.commit("f")
    budget = ReadBudget(slots=1, wait_seconds=0.01)
    hub = Hub(store, broker, read_budget=budget, resync_seconds=3600)  # type: ignore[arg-type]
    await hub.start()
    metrics = Metrics()
    metrics.bind(SimpleNamespace(hub=hub, draining=asyncio.Event()))  # type: ignore[arg-type]
    try:
        current = await hub.attach("f", Sink())
        async with budget.slot():
            with pytest.raises(CatchupOverloaded):
                await hub.catch_up("f", 1, current)
        await hub.catch_up("f", 1, current)
        await hub.catch_up("f", 2, current)  # from the window now
        sample = metrics.registry.get_sample_value
        assert sample("livefeed_catchup_store_reads_total") == 2  # the slot held above, one load
        assert sample("livefeed_catchup_refused_total") == 1
    finally:
        metrics.bind(None)
        await hub.stop()


async def test_replace_hands_a_subscribers_place_over_and_ignores_a_detached_one(
    hub: Hub, store: FakeStore
) -> None:
    """A stream going live hands its place to its transport's subscriber: the next change
    reaches the new one only, the reader count is unchanged, and detaching the new one
    empties the channel. Replacing a subscriber that already left attaches nothing."""
    opening, live, stray = Sink(), Sink(), Sink()
    await hub.attach("f", opening)
    hub.replace("f", opening, live)
    assert hub.subscriber_count("f") == 1
    await hub.publish([store.commit("f")])
    assert (opening.revs, live.revs) == ([], [1])
    hub.replace("f", opening, stray)  # `opening` is no longer attached
    await hub.publish([store.commit("f")])
    assert (live.revs, stray.revs) == ([1, 2], [])
    hub.detach("f", live)
    assert hub.subscriber_count("f") == 0
