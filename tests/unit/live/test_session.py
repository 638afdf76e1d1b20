"""StreamSession with fakes: states, teardown, bounds, and the catch-up/live race forced.

The race tests use the real :class:`app.hub.Hub` (with the in-process broker) and the real
catch-up read (:func:`app.live.connection.catch_up`) over an in-memory store whose reads
can be held at a gate, so a live change lands exactly while a catch-up is in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from app.brokers.memory import MemoryBroker
from app.catchup import CatchupOverloaded
from app.events import UNSEQUENCED, Change
from app.hub import FILL_PAGE, Event, Hub
from app.live.close_codes import (
    CLOSE_INTERNAL_ERROR,
    CLOSE_ORIGIN_REFUSED,
    CLOSE_POLICY,
    CLOSE_SERVICE_RESTART,
    CLOSE_SLOW_READER,
    CLOSE_TRY_AGAIN_LATER,
)
from app.live.connection import catch_up
from app.live.session import EventQueue, QueuedLive, StreamSession, StreamState
from app.metrics import Metrics
from app.store import NotFound

FEED = "race"


def payload(rev: int, size: int = 0) -> bytes:
    return b'{"type":"entry","rev":%d,"pad":"%s"}' % (rev, b"x" * size)


class GatedStore:
    """An in-memory change log. ``hold_reads()`` makes the next ``changes_since`` calls
    wait at a gate (``reading`` is set once one is waiting) until ``release()``."""

    def __init__(self) -> None:
        self.log: list[tuple[int, bytes]] = []
        self.calls: list[tuple[int, int]] = []
        self._gate: asyncio.Event | None = None
        self.reading = asyncio.Event()

    def commit(self, size: int = 0) -> Change:
        rev = len(self.log) + 1
        self.log.append((rev, payload(rev, size)))
        return Change(FEED, rev, self.log[-1][1])

    def hold_reads(self) -> None:
        self._gate = asyncio.Event()
        self.reading.clear()

    def release(self) -> None:
        assert self._gate is not None
        self._gate.set()
        self._gate = None

    async def current_rev(self, feed: str) -> int:
        if feed != FEED:
            raise NotFound(feed)
        return len(self.log)

    async def changes_since(
        self, feed: str, since: int, *, limit: int
    ) -> tuple[int, list[tuple[int, bytes]]]:
        self.calls.append((since, limit))
        gate = self._gate
        if gate is not None:
            self.reading.set()
            await gate.wait()
        events = [(rev, data) for rev, data in self.log if rev > since][:limit]
        return (events[-1][0] if events else len(self.log)), events


class RecordingSink:
    """Records what a session sends; ``backlog`` is what ``push`` reports unsent."""

    def __init__(self, backlog: int = 0, fail_on_push: bool = False) -> None:
        self.sent: list[tuple[str, int]] = []
        #: What each ``send`` call carried (a native sink writes each as one write).
        self.sends: list[list[tuple[str, int]]] = []
        self.ends: list[tuple[int, str]] = []
        self.backlog = backlog
        self.fail_on_push = fail_on_push

    def send(self, events: Sequence[Event]) -> None:
        batch = [(event.kind, event.rev) for event in events]
        self.sends.append(batch)
        self.sent.extend(batch)

    def push(self, event: Event) -> int:
        if self.fail_on_push:
            raise OSError("transport broke")
        self.sent.append((event.kind, event.rev))
        return self.backlog

    def live(self, session: StreamSession, covered: int) -> QueuedLive:
        return QueuedLive(session, self.push, covered)

    def end(self, code: int, reason: str) -> None:
        self.ends.append((code, reason))

    @property
    def revs(self) -> list[int]:
        return [rev for kind, rev in self.sent if kind == "entry"]


class CountingAdmission:
    def __init__(self, refusal: tuple[int, str] | None = None) -> None:
        self.refusal = refusal
        self.admits = 0
        self.releases = 0
        self.gate: asyncio.Event | None = None
        self.waiting = asyncio.Event()

    async def admit(self) -> tuple[int, str] | None:
        self.admits += 1
        if self.gate is not None:
            self.waiting.set()
            await self.gate.wait()
        return self.refusal

    def release(self) -> None:
        self.releases += 1


class GatedHub(Hub):
    """The real hub; ``attach`` can be held at a gate to close a session mid-attach."""

    def __init__(self, store: GatedStore) -> None:
        super().__init__(store, MemoryBroker())  # type: ignore[arg-type]
        self.attach_gate: asyncio.Event | None = None
        self.attaching = asyncio.Event()
        self.detaches = 0

    async def attach(self, feed: str, subscriber: Any) -> int:
        if self.attach_gate is not None:
            self.attaching.set()
            await self.attach_gate.wait()
        return await super().attach(feed, subscriber)

    def detach(self, feed: str, subscriber: Any) -> None:
        self.detaches += 1
        super().detach(feed, subscriber)


def make_session(
    hub: Hub,
    store: GatedStore,
    sink: RecordingSink | EventQueue,
    *,
    admission: CountingAdmission | None = None,
    limit_bytes: int = 1 << 20,
    max_messages: int = 120,
    metrics: Metrics | None = None,
    provider: Callable[[str, int | None, int], Awaitable[Sequence[Event] | None]] | None = None,
    clock: Callable[[], float] | None = None,
    transport: str = "websocket",
) -> StreamSession:
    async def from_store(feed: str, since: int | None, current: int) -> Sequence[Event] | None:
        return await catch_up(hub, feed, since, current, 2000)

    extra: dict[str, Any] = {} if clock is None else {"clock": clock}
    return StreamSession(
        FEED,
        hub=hub,
        admission=admission or CountingAdmission(),
        catch_up=provider or from_store,
        sink=sink,
        limit_bytes=limit_bytes,
        max_messages_per_minute=max_messages,
        metrics=metrics,
        transport=transport,
        **extra,
    )


async def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Condition wait (no timing assertion): yield to the loop until ``condition`` holds."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"never happened: {what}")


def gauge(metrics: Metrics, name: str, transport: str = "websocket") -> float:
    value = metrics.registry.get_sample_value(name, {"transport": transport})
    assert value is not None
    return value


@pytest.fixture
def store() -> GatedStore:
    return GatedStore()


@pytest.fixture
def hub(store: GatedStore) -> GatedHub:
    return GatedHub(store)


# -- the catch-up/live race, forced ---------------------------------------------------------


async def test_change_during_catch_up_is_held_then_sent_after_it_once(
    hub: GatedHub, store: GatedStore
) -> None:
    for _ in range(5):
        store.commit()
    sink = RecordingSink()
    session = make_session(hub, store, sink)
    store.hold_reads()
    opening = asyncio.create_task(session.open(since=2))
    await store.reading.wait()
    assert session.state is StreamState.CATCHING_UP
    # Two writes commit and are published while the catch-up read is in flight.
    for _ in range(2):
        await hub.publish([store.commit()])
    assert sink.sent == [], "nothing may reach the client before hello and its catch-up"
    store.release()
    await opening
    assert session.state is StreamState.LIVE
    await hub.publish([store.commit()])
    assert sink.sent == [("hello", 5)] + [("entry", rev) for rev in (3, 4, 5, 6, 7, 8)]


async def test_opening_is_one_send_hello_catch_up_then_held_events(
    hub: GatedHub, store: GatedStore
) -> None:
    """What a stream is owed when it goes live (hello, the catch-up, the readers count and
    changes held meanwhile) is handed over in one send: one write per opening reader."""
    for _ in range(3):
        store.commit()
    live = RecordingSink()
    await make_session(hub, store, live).open(since=None)
    hub.announce_readers(FEED, 2)  # kept for readers who attach later
    sink = RecordingSink()
    session = make_session(hub, store, sink)
    store.hold_reads()
    opening = asyncio.create_task(session.open(since=1))
    await store.reading.wait()
    await hub.publish([store.commit()])
    store.release()
    await opening
    assert sink.sends == [[("hello", 3), ("entry", 2), ("entry", 3), ("readers", 0), ("entry", 4)]]
    await hub.publish([store.commit()])
    assert sink.sends[1:] == [] and sink.sent[-1] == ("entry", 5)


async def test_catch_up_that_overlaps_held_events_sends_each_rev_once(
    hub: GatedHub, store: GatedStore
) -> None:
    """A provider whose read lands after live changes (e.g. from a window fed by the same
    stream) may return revs past the boundary; the held copies of those are dropped."""
    for _ in range(3):
        store.commit()
    gate = asyncio.Event()

    async def late_window(feed: str, since: int | None, current: int) -> list[Event]:
        await gate.wait()
        return [Event(rev, data) for rev, data in store.log if rev > (since or 0)]

    sink = RecordingSink()
    session = make_session(hub, store, sink, provider=late_window)
    opening = asyncio.create_task(session.open(since=1))
    await wait_for(lambda: session.state is StreamState.CATCHING_UP, "catching up")
    for _ in range(2):
        await hub.publish([store.commit()])
    gate.set()
    await opening
    await hub.publish([store.commit()])
    assert sink.sent == [("hello", 3)] + [("entry", rev) for rev in (2, 3, 4, 5, 6)]


async def test_gap_fill_pages_past_one_page_with_a_live_change_in_between(
    hub: GatedHub, store: GatedStore
) -> None:
    sink = RecordingSink()
    session = make_session(hub, store, sink)
    await session.open(since=None)
    assert sink.sent == [("hello", 0)]
    # Another process commits more than two pages without this one hearing of it.
    total = 2 * FILL_PAGE + 7
    for _ in range(total):
        store.commit()
    store.hold_reads()
    filling = asyncio.create_task(hub.sync(FEED))
    await store.reading.wait()
    # A live change arrives while the first page is being read: it must wait its turn.
    latest = store.commit()
    await hub.publish([latest])
    store.release()
    await filling
    await hub.sync(FEED)
    assert sink.revs == list(range(1, total + 2))
    assert [since for since, _limit in store.calls] == [0, FILL_PAGE, 2 * FILL_PAGE]


async def test_failing_subscriber_is_closed_and_others_keep_order(
    hub: GatedHub, store: GatedStore
) -> None:
    metrics = Metrics()
    good, bad = RecordingSink(), RecordingSink(fail_on_push=True)
    healthy = make_session(hub, store, good, metrics=metrics)
    broken = make_session(hub, store, bad, metrics=metrics)
    await healthy.open(since=None)
    await broken.open(since=None)
    assert gauge(metrics, "livefeed_open_connections") == 2
    for _ in range(3):
        await hub.publish([store.commit()])
    assert good.revs == [1, 2, 3]
    # The broken stream is closed (so its client resumes), not silently left detached.
    assert broken.state is StreamState.CLOSING
    assert bad.ends == [(CLOSE_INTERNAL_ERROR, "internal error")]
    assert hub.subscriber_count(FEED) == 1
    assert gauge(metrics, "livefeed_open_connections") == 1
    broken.transport_closed()
    assert gauge(metrics, "livefeed_open_connections") == 1


class OwnSubscriberSink(RecordingSink):
    """A sink that is its own live subscriber, as the native WebSocket protocol is."""

    session: StreamSession | None = None
    covered = 0

    def live(self, session: StreamSession, covered: int) -> Any:
        self.session, self.covered = session, covered
        return self

    def deliver(self, event: Event) -> None:
        if event.rev <= self.covered and event.rev != UNSEQUENCED:
            return
        self.sent.append((event.kind, event.rev))

    def close(self, code: int, reason: str) -> None:
        assert self.session is not None
        self.session.close(code, reason)


async def test_once_live_the_sinks_subscriber_takes_the_sessions_place_in_the_hub(
    hub: GatedHub, store: GatedStore
) -> None:
    """The hub then calls the sink's subscriber, not the session: one object per reader in
    the fan-out loop. It is told what the opening covered (a catch-up that read past the
    boundary), it is what the drain closes, and it is what the session detaches."""
    for _ in range(3):
        store.commit()

    async def reads_past_the_boundary(
        feed: str, since: int | None, current: int
    ) -> Sequence[Event] | None:
        store.commit()  # rev 4: committed and read by the catch-up, not published yet
        return [Event(rev, data) for rev, data in store.log if rev > (since or 0)]

    sink = OwnSubscriberSink()
    session = make_session(hub, store, sink, provider=reads_past_the_boundary)
    await session.open(since=1)
    assert session.state is StreamState.LIVE
    assert sink.session is session and sink.covered == 4
    assert sink.sends == [[("hello", 3), ("entry", 2), ("entry", 3), ("entry", 4)]]
    assert hub.subscriber_count(FEED) == 1
    await hub.publish([Change(FEED, 4, store.log[3][1])])  # the covered rev, published late
    await hub.publish([store.commit()])
    hub.announce_readers(FEED, 7)
    assert sink.sent[4:] == [("entry", 5), ("readers", 0)]
    hub.close_all(CLOSE_SERVICE_RESTART, "restart")
    assert session.close_code == CLOSE_SERVICE_RESTART
    assert sink.ends == [(CLOSE_SERVICE_RESTART, "restart")]
    assert hub.subscriber_count(FEED) == 0, "the live subscriber was detached, not the session"


async def test_closing_a_live_session_detaches_its_sinks_subscriber(
    hub: GatedHub, store: GatedStore
) -> None:
    sink = OwnSubscriberSink()
    session = make_session(hub, store, sink)
    await session.open(since=None)
    assert hub.subscriber_count(FEED) == 1
    session.close(CLOSE_POLICY, "bye")
    assert hub.subscriber_count(FEED) == 0
    await hub.publish([store.commit()])
    assert sink.revs == []
    session.transport_closed()
    assert hub.subscriber_count(FEED) == 0


# -- states and teardown ----------------------------------------------------------------


async def test_states_in_order_and_hello_first(hub: GatedHub, store: GatedStore) -> None:
    store.commit()
    admission = CountingAdmission()
    admission.gate = asyncio.Event()
    hub.attach_gate = asyncio.Event()
    store.hold_reads()
    sink = RecordingSink()
    session = make_session(hub, store, sink, admission=admission)
    seen = [session.state]
    opening = asyncio.create_task(session.open(since=0))
    await admission.waiting.wait()
    seen.append(session.state)
    admission.gate.set()
    await hub.attaching.wait()
    hub.attach_gate.set()
    await store.reading.wait()
    seen.append(session.state)
    store.release()
    await opening
    seen.append(session.state)
    session.close(CLOSE_SERVICE_RESTART, "bye")
    seen.append(session.state)
    session.transport_closed()
    seen.append(session.state)
    assert seen == [
        StreamState.ADMITTING,
        StreamState.ADMITTING,
        StreamState.CATCHING_UP,
        StreamState.LIVE,
        StreamState.CLOSING,
        StreamState.CLOSED,
    ]
    assert sink.sent == [("hello", 1), ("entry", 1)]
    assert sink.ends == [(CLOSE_SERVICE_RESTART, "bye")]


@pytest.mark.parametrize(
    "gone_while", ["admitting", "attaching", "catching_up", "live", "closing", "closed"]
)
@pytest.mark.parametrize("how", ["transport_closed", "close_then_transport_closed"])
async def test_teardown_happens_exactly_once_from_every_state(
    hub: GatedHub, store: GatedStore, gone_while: str, how: str
) -> None:
    store.commit()
    metrics = Metrics()
    admission = CountingAdmission()
    sink = RecordingSink()
    session = make_session(hub, store, sink, admission=admission, metrics=metrics)

    def end_it() -> None:
        if how == "close_then_transport_closed":
            session.close(CLOSE_SERVICE_RESTART, "draining")
            session.close(CLOSE_SLOW_READER, "twice")  # first close wins
        session.transport_closed()
        session.transport_closed()

    if gone_while == "admitting":
        admission.gate = asyncio.Event()
    elif gone_while == "attaching":
        hub.attach_gate = asyncio.Event()
    elif gone_while == "catching_up":
        store.hold_reads()
    opening = asyncio.create_task(session.open(since=0))
    if gone_while == "admitting":
        await admission.waiting.wait()
        end_it()
        admission.gate.set()  # type: ignore[union-attr]
    elif gone_while == "attaching":
        await hub.attaching.wait()
        end_it()
        hub.attach_gate.set()  # type: ignore[union-attr]
    elif gone_while == "catching_up":
        await store.reading.wait()
        end_it()
        store.release()
    await opening
    if gone_while in ("live", "closing", "closed"):
        assert session.state is StreamState.LIVE
        if gone_while == "closing":
            session.close(CLOSE_SERVICE_RESTART, "draining")
        if gone_while == "closed":
            session.transport_closed()
        end_it()
    await hub.publish([store.commit()])  # must reach nobody now

    assert session.state is StreamState.CLOSED
    assert admission.admits == 1 and admission.releases == 1
    assert hub.subscriber_count(FEED) == 0
    assert gauge(metrics, "livefeed_open_connections") == 0
    assert ("entry", 2) not in sink.sent
    closed_by_session = gone_while == "closing" or (
        how == "close_then_transport_closed" and gone_while != "closed"
    )
    assert len(sink.ends) == (1 if closed_by_session else 0)
    if gone_while in ("admitting", "attaching", "catching_up"):
        assert sink.sent == [], "a stream gone while opening is sent nothing"


async def test_refused_stream_is_never_attached_nor_released(
    hub: GatedHub, store: GatedStore
) -> None:
    admission = CountingAdmission(refusal=(CLOSE_ORIGIN_REFUSED, "origin not allowed"))
    sink = RecordingSink()
    session = make_session(hub, store, sink, admission=admission)
    await session.open(since=None)
    assert session.refused and session.close_code == CLOSE_ORIGIN_REFUSED
    assert sink.ends == [(CLOSE_ORIGIN_REFUSED, "origin not allowed")] and sink.sent == []
    session.transport_closed()
    assert admission.releases == 0 and hub.detaches == 0


async def test_drain_closes_every_live_session_with_1012(hub: GatedHub, store: GatedStore) -> None:
    sinks = [RecordingSink() for _ in range(3)]
    for sink in sinks:
        await make_session(hub, store, sink).open(since=None)
    hub.close_all(CLOSE_SERVICE_RESTART, "server restarting: reconnect")
    assert [sink.ends for sink in sinks] == [[(1012, "server restarting: reconnect")]] * 3
    assert hub.subscriber_count(FEED) == 0


async def test_a_stream_still_attaching_when_the_drain_starts_gets_1012(
    hub: GatedHub, store: GatedStore
) -> None:
    """Admitted just before the drain, its attach still in flight when the drain closes
    every subscriber: it is closed with 1012 too, never left live on a stopping process."""
    hub.attach_gate = asyncio.Event()
    sink = RecordingSink()
    session = make_session(hub, store, sink)
    opening = asyncio.create_task(session.open(since=None))
    await hub.attaching.wait()
    hub.close_all(CLOSE_SERVICE_RESTART, "server restarting: reconnect")
    hub.attach_gate.set()
    await opening
    assert session.close_code == CLOSE_SERVICE_RESTART
    assert sink.ends == [(CLOSE_SERVICE_RESTART, "server restarting: reconnect")]
    assert sink.sent == []  # no hello: it never went live
    assert hub.subscriber_count(FEED) == 0
    store.commit()
    await hub.publish([Change(FEED, 1, store.log[-1][1])])
    assert sink.sent == []


# -- bounds -----------------------------------------------------------------------------


async def test_held_events_are_bounded_by_bytes(hub: GatedHub, store: GatedStore) -> None:
    store.commit()
    metrics = Metrics()
    sink = RecordingSink()
    session = make_session(hub, store, sink, limit_bytes=1000, metrics=metrics)
    store.hold_reads()
    opening = asyncio.create_task(session.open(since=0))
    await store.reading.wait()
    await hub.publish([store.commit(size=400)])
    await hub.publish([store.commit(size=400)])
    assert session.state is StreamState.CATCHING_UP, "under the bound: still held"
    await hub.publish([store.commit(size=400)])
    assert session.close_code == CLOSE_SLOW_READER
    assert session.state is StreamState.CLOSING
    assert hub.subscriber_count(FEED) == 0, "detached at once: nothing more is held"
    store.release()
    await opening
    assert sink.sent == [], "nothing is sent after the close"
    assert gauge(metrics, "livefeed_slow_reader_disconnects_total") == 1


async def test_send_backlog_over_the_bound_closes_4008_once(
    hub: GatedHub, store: GatedStore
) -> None:
    metrics = Metrics()
    sink = RecordingSink()
    session = make_session(hub, store, sink, limit_bytes=100, metrics=metrics, transport="sse")
    await session.open(since=None)
    await hub.publish([store.commit()])
    sink.backlog = 101
    await hub.publish([store.commit()])
    await hub.publish([store.commit()])
    assert sink.revs == [1, 2]
    assert sink.ends == [(CLOSE_SLOW_READER, "slow reader: reconnect with since=<last rev>")]
    assert gauge(metrics, "livefeed_slow_reader_disconnects_total", "sse") == 1


async def test_event_queue_counts_the_batch_in_flight(hub: GatedHub, store: GatedStore) -> None:
    queue = EventQueue()
    session = make_session(hub, store, queue, limit_bytes=3 * len(payload(1)))
    await session.open(since=None)
    assert [event.kind for event in await queue.next_batch() or []] == ["hello"]
    for _ in range(3):
        await hub.publish([store.commit()])
    batch = await queue.next_batch()  # taken by the writer, not yet sent
    assert [event.rev for event in batch or []] == [1, 2, 3]
    await hub.publish([store.commit()])  # in flight + this one: over the bound
    assert session.close_code == CLOSE_SLOW_READER
    assert await queue.next_batch() is None, "an end wins over queued events"


async def test_event_queue_frees_bytes_once_the_batch_is_sent(
    hub: GatedHub, store: GatedStore
) -> None:
    queue = EventQueue()
    session = make_session(hub, store, queue, limit_bytes=3 * len(payload(1)))
    await session.open(since=None)
    await queue.next_batch()
    for _ in range(10):
        await hub.publish([store.commit()])
        assert [event.rev for event in await queue.next_batch() or []] == [store.log[-1][0]]
    assert session.close_code is None


async def test_client_flood_closes_1008_and_the_window_resets() -> None:
    store = GatedStore()
    hub = GatedHub(store)
    now = [1000.0]
    sink = RecordingSink()
    session = make_session(hub, store, sink, max_messages=3, clock=lambda: now[0])
    await session.open(since=None)
    for _ in range(3):
        session.client_message()
    now[0] += 61  # a new minute: the count starts again
    for _ in range(3):
        session.client_message()
    assert session.close_code is None
    session.client_message()
    assert session.close_code == CLOSE_POLICY and sink.ends == [(CLOSE_POLICY, "too many messages")]


# -- what resuming readers get, and how it is counted ---------------------------------------


@pytest.mark.parametrize("transport", ["websocket", "sse"])
async def test_catchups_served_counts_every_resume_the_same_way(
    hub: GatedHub, store: GatedStore, transport: str
) -> None:
    for _ in range(3):
        store.commit()
    metrics = Metrics()
    for since in (None, 3, 1, 99):  # fresh; nothing missed; two missed; ahead (reset)
        await make_session(hub, store, RecordingSink(), metrics=metrics, transport=transport).open(
            since
        )
    assert gauge(metrics, "livefeed_catchups_served_total", transport) == 3


async def test_since_ahead_of_the_feed_gets_a_reset(hub: GatedHub, store: GatedStore) -> None:
    store.commit()
    sink = RecordingSink()
    await make_session(hub, store, sink).open(since=7)
    assert sink.sent == [("hello", 1), ("reset", 1)]


async def test_catch_up_over_budget_closes_1013_never_1011(
    hub: GatedHub, store: GatedStore
) -> None:
    async def overloaded(feed: str, since: int | None, current: int) -> list[Event]:
        raise CatchupOverloaded("catch-up reads over budget")

    metrics = Metrics()
    admission = CountingAdmission()
    sink = RecordingSink()
    session = make_session(
        hub, store, sink, admission=admission, metrics=metrics, provider=overloaded
    )
    await session.open(since=0)
    assert session.close_code == CLOSE_TRY_AGAIN_LATER and session.refused
    assert sink.sent == [] and sink.ends == [(CLOSE_TRY_AGAIN_LATER, "server busy: retry later")]
    assert hub.subscriber_count(FEED) == 0
    assert gauge(metrics, "livefeed_open_connections") == 0
    session.transport_closed()
    assert admission.releases == 1


async def test_event_queue_wait_honours_a_cancel_that_lands_as_events_arrive() -> None:
    """The writer's wait for events must end on a cancel (the transport closing it), even
    when the cancel lands in the same loop step as a wakeup: Python 3.11's wait_for
    swallowed such a cancel and returned the batch, so the writer kept running."""
    queue = EventQueue()
    waiting = asyncio.ensure_future(queue.next_batch(timeout=60))
    for _ in range(3):  # let it park on the wakeup
        await asyncio.sleep(0)
    assert not waiting.done()
    queue.push(Event(1, payload(1)))
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
