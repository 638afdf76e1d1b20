"""The catch-up window and single-flight, budgeted loads (app/catchup.py), with a fake
change log: no services, no timing assertions."""

from __future__ import annotations

import asyncio

import pytest

from app.catchup import CatchupOverloaded, CatchupWindow, FeedHistory, ReadBudget
from app.hub import Event
from tests.unit.hub_fakes import FakeStore, entry_payload


def event(rev: int, size: int | None = None) -> Event:
    payload = entry_payload(rev) if size is None else b"{" + b"x" * (size - 1)
    return Event(rev, payload)


def window_of(
    top: int, revs: range, max_events: int = 100, max_bytes: int = 10**6
) -> CatchupWindow[Event]:
    window = CatchupWindow[Event](top, max_events, max_bytes)
    for rev in revs:
        window.append(event(rev))
    return window


def revs(events: list[Event] | None) -> list[int] | None:
    return None if events is None else [e.rev for e in events]


# -- the window -----------------------------------------------------------------------------


def test_window_holds_contiguous_revs_and_answers_ranges_inside_it() -> None:
    window = window_of(10, range(11, 16))
    assert (window.base, window.top, len(window)) == (10, 15, 5)
    assert revs(window.between(10, 15)) == [11, 12, 13, 14, 15]
    assert revs(window.between(12, 14)) == [13, 14]
    assert revs(window.between(15, 15)) == []
    assert window.between(9, 15) is None  # rev 10 is not held
    assert window.between(12, 16) is None  # not delivered yet


def test_window_evicts_oldest_past_the_count_bound() -> None:
    window = window_of(0, range(1, 8), max_events=3)
    assert (window.base, window.top, len(window)) == (4, 7, 3)
    assert revs(window.between(4, 7)) == [5, 6, 7]
    assert window.between(3, 7) is None


def test_window_evicts_oldest_past_the_byte_bound() -> None:
    window = CatchupWindow[Event](0, max_events=100, max_bytes=250)
    for rev in range(1, 5):
        window.append(event(rev, size=100))
    # 4 × 100 bytes > 250: only the newest two fit.
    assert (window.base, window.top, window.bytes) == (2, 4, 200)
    window.append(event(5, size=300))  # larger than the bound on its own: nothing is kept
    assert (window.base, window.top, window.bytes, len(window)) == (5, 5, 0, 0)
    assert revs(window.between(5, 5)) == []


def test_a_rev_that_does_not_follow_empties_the_window_instead_of_holding_a_hole() -> None:
    window = window_of(0, range(1, 4))
    window.append(event(6))
    assert (window.base, window.top) == (5, 6)
    assert window.between(3, 6) is None  # revs 4 and 5 were never held
    assert revs(window.between(5, 6)) == [6]


def test_prepend_adds_older_events_that_fit_and_ignores_ones_that_do_not_join() -> None:
    window = window_of(10, range(11, 13), max_events=5)
    window.prepend([event(r) for r in range(6, 11)])  # 5 older, room for 3
    assert (window.base, window.top) == (7, 12)
    assert revs(window.between(7, 12)) == [8, 9, 10, 11, 12]
    window.prepend([event(r) for r in range(2, 6)])  # ends at 5, base is 7: no join
    assert window.base == 7
    other = window_of(10, range(11, 13))
    other.prepend([event(7), event(9), event(10)])  # a hole at 8: stops before it
    assert (other.base, revs(other.between(other.base, 12))) == (8, [9, 10, 11, 12])


# -- loads ------------------------------------------------------------------------------------


def history(store: FakeStore, window: CatchupWindow[Event], slots: int = 4) -> FeedHistory[Event]:
    return FeedHistory("f", store, ReadBudget(slots, wait_seconds=30), window, Event)


def store_at(rev: int) -> FakeStore:
    store = FakeStore()
    store.add_feed("f")
    for _ in range(rev):
        store.commit("f")
    return store


async def test_a_resume_within_the_window_reads_nothing_from_the_store() -> None:
    store = store_at(20)
    feed = history(store, window_of(10, range(11, 21)))
    assert revs(await feed.between(12, 20)) == list(range(13, 21))
    assert store.changes_since_calls == []


async def test_a_thousand_readers_needing_older_events_cause_one_store_read() -> None:
    store = store_at(30)
    window = window_of(25, range(26, 31))  # e.g. a process that started at rev 25
    feed = history(store, window)
    store.gate = asyncio.Event()
    readers = [asyncio.ensure_future(feed.between(20 + i % 5, 30)) for i in range(1000)]
    await asyncio.sleep(0)
    store.gate.set()
    results = await asyncio.gather(*readers)
    assert len(store.changes_since_calls) == 1
    for i, result in enumerate(results):
        assert revs(result) == list(range(21 + i % 5, 31))
    # What was read is kept: later readers within it read nothing.
    assert window.base <= 20
    assert revs(await feed.between(22, 30)) == list(range(23, 31))
    assert len(store.changes_since_calls) == 1


async def test_a_reader_further_back_than_the_load_in_flight_waits_then_loads_once_more() -> None:
    store = store_at(40)
    feed = history(store, window_of(35, range(36, 41), max_events=8))
    store.gate = asyncio.Event()
    near = asyncio.ensure_future(feed.between(33, 40))
    await asyncio.sleep(0)
    far = asyncio.ensure_future(feed.between(5, 40))  # below the first load's floor
    await asyncio.sleep(0)
    store.gate.set()
    assert revs(await near) == list(range(34, 41))
    assert revs(await far) == list(range(6, 41))
    assert len(store.changes_since_calls) == 2
    assert store.changes_since_calls[1][1] == 5


async def test_a_reader_that_goes_away_does_not_cancel_the_load_for_the_others() -> None:
    store = store_at(10)
    feed = history(store, window_of(10, range(0)))
    store.gate = asyncio.Event()
    first = asyncio.ensure_future(feed.between(4, 10))
    second = asyncio.ensure_future(feed.between(4, 10))
    await asyncio.sleep(0)
    first.cancel()
    store.gate.set()
    assert revs(await second) == [5, 6, 7, 8, 9, 10]
    assert first.cancelled()
    assert len(store.changes_since_calls) == 1


async def test_over_budget_every_waiting_reader_is_told_to_retry_and_nothing_leaks() -> None:
    store = store_at(10)
    budget = ReadBudget(slots=1, wait_seconds=0.01)
    feed = FeedHistory("f", store, budget, window_of(10, range(0)), Event)
    async with budget.slot():  # the only slot is busy (another feed's long read)
        results = await asyncio.gather(
            *(feed.between(2, 10) for _ in range(3)), return_exceptions=True
        )
    assert all(isinstance(r, CatchupOverloaded) for r in results), results
    assert budget.refused == 1  # one load, refused once, shared by the three
    assert store.changes_since_calls == []
    # With the slot free again, the next reader is served.
    assert revs(await feed.between(2, 10)) == [3, 4, 5, 6, 7, 8, 9, 10]


async def test_store_errors_reach_every_waiting_reader() -> None:
    store = store_at(10)
    feed = history(store, window_of(10, range(0)))
    store.fail_reads = RuntimeError("database gone")
    results = await asyncio.gather(*(feed.between(2, 10) for _ in range(3)), return_exceptions=True)
    assert [type(r) for r in results] == [RuntimeError] * 3
    assert len(store.changes_since_calls) == 1


async def test_budget_bounds_concurrent_reads_across_feeds() -> None:
    store = FakeStore()
    budget = ReadBudget(slots=2, wait_seconds=30)
    feeds = []
    for i in range(6):
        slug = f"f{i}"
        store.add_feed(slug)
        for _ in range(5):
            store.commit(slug)
        feeds.append(FeedHistory(slug, store, budget, CatchupWindow[Event](5, 100, 10**6), Event))
    in_flight = 0
    most = 0
    real = store.changes_since

    async def counting(slug: str, since: int, *, limit: int) -> tuple[int, list[tuple[int, bytes]]]:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            for _ in range(3):
                await asyncio.sleep(0)
            return await real(slug, since, limit=limit)
        finally:
            in_flight -= 1

    store.changes_since = counting  # type: ignore[method-assign]
    results = await asyncio.gather(*(f.between(1, 5) for f in feeds))
    assert all(revs(r) == [2, 3, 4, 5] for r in results)
    assert most == 2


@pytest.mark.parametrize("since", [0, 3])
async def test_events_are_shared_objects_so_frames_are_built_once(since: int) -> None:
    store = store_at(6)
    feed = history(store, window_of(6, range(0)))
    one, two = await asyncio.gather(feed.between(since, 6), feed.between(since, 6))
    assert [id(e) for e in one] == [id(e) for e in two]
