"""Catch-up from memory: a bounded window of each served feed's recent events, with
single-flight, budgeted loads from the store for anything older.

A reader that resumes with ``since`` is owed the events in ``(since, boundary]``, where
``boundary`` is the rev the hub attached it at. The hub keeps, per feed with subscribers,
a :class:`CatchupWindow` of the latest events it delivered (fed by the same ordered,
gap-filled stream the readers get), bounded by count *and* bytes
(``LIVEFEED_CATCHUP_WINDOW_EVENTS``, ``LIVEFEED_CATCHUP_WINDOW_BYTES``). A resume within
the window is answered from memory, with no database read.

Older events come from the change log through :class:`FeedHistory`, which makes loads
**single-flight per feed**: however many readers of a feed need older events at once (a
restart storm: every reader of a restarted process reconnects with the rev it had), one
query runs, and everyone waiting is served from its result; what it read is kept in the
window (as far as the bounds allow) for those who come later.

Loads never starve writes: every catch-up read takes a slot of a process-wide
:class:`ReadBudget` (``LIVEFEED_CATCHUP_READ_SLOTS``, fewer than the connection pool, so
reporters' writes always find a connection). A load that cannot get a slot within
``LIVEFEED_CATCHUP_READ_WAIT_SECONDS`` raises :class:`CatchupOverloaded`: the reader is
closed with the documented retryable "try again later" code and a retry hint, instead of
queueing on the pool until it times out with an internal error.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

#: A reader sent back a stale window after a load retries this often before reading the
#: store for itself (only when the window is evicting faster than one query takes).
COMPOSE_ATTEMPTS = 3


class CatchupOverloaded(Exception):
    """The store is over its catch-up read budget: the reader should retry later."""


class ChangeLog(Protocol):
    """What catch-up needs of the store (:meth:`app.store.Store.changes_since`)."""

    async def changes_since(
        self, slug: str, since: int, *, limit: int
    ) -> tuple[int, list[tuple[int, bytes]]]: ...


class HeldEvent(Protocol):
    """What the window keeps of an event (:class:`app.hub.Event`)."""

    @property
    def rev(self) -> int: ...

    @property
    def payload(self) -> bytes: ...


E = TypeVar("E", bound=HeldEvent)


class ReadBudget:
    """At most ``slots`` catch-up reads of the store at once, process-wide.

    A read waits at most ``wait_seconds`` for a slot, then raises :class:`CatchupOverloaded`.
    Writes never take a slot: with ``slots`` below the pool size, they always find a
    connection, however many readers are catching up.
    """

    def __init__(self, slots: int, wait_seconds: float) -> None:
        self.slots = slots
        self.wait_seconds = wait_seconds
        self._free = asyncio.Semaphore(slots)
        #: Reads refused for want of a slot (a metric).
        self.refused = 0
        #: Catch-up reads of the store made (a metric).
        self.reads = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(self.wait_seconds):
                await self._free.acquire()
        except TimeoutError:
            self.refused += 1
            raise CatchupOverloaded(
                f"no catch-up read slot within {self.wait_seconds:g}s"
            ) from None
        try:
            self.reads += 1
            yield
        finally:
            self._free.release()


class CatchupWindow(Generic[E]):
    """The latest events of one feed: contiguous revs ``(base, top]``, oldest evicted first
    once there are more than ``max_events`` of them or their payloads exceed ``max_bytes``.

    ``top`` is the last rev the hub delivered; :meth:`append` is fed every delivery, in
    order. :meth:`prepend` adds older events read from the store below ``base``, as many of
    the newest as the bounds allow.
    """

    __slots__ = ("_events", "base", "bytes", "max_bytes", "max_events")

    def __init__(self, top: int, max_events: int, max_bytes: int) -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.base = top
        self.bytes = 0
        self._events: deque[E] = deque()

    def __len__(self) -> int:
        return len(self._events)

    @property
    def top(self) -> int:
        return self.base + len(self._events)

    def append(self, event: E) -> None:
        """Add the next delivered event. A rev that does not follow ``top`` (the hub never
        delivers one) empties the window first, so it never holds a hole."""
        if event.rev != self.top + 1:
            self._events.clear()
            self.bytes = 0
            self.base = event.rev - 1
        self._events.append(event)
        self.bytes += len(event.payload)
        while self._events and (len(self._events) > self.max_events or self.bytes > self.max_bytes):
            self.bytes -= len(self._events.popleft().payload)
            self.base += 1

    def prepend(self, older: list[E]) -> None:
        """Add ``older`` — contiguous events in rev order ending at ``base`` — keeping the
        newest that fit; anything else (not ending at ``base``, holes) is ignored."""
        if not older or older[-1].rev != self.base:
            return
        for event in reversed(older):
            if event.rev != self.base:
                return
            size = len(event.payload)
            if len(self._events) + 1 > self.max_events or self.bytes + size > self.max_bytes:
                return
            self._events.appendleft(event)
            self.bytes += size
            self.base -= 1

    def between(self, since: int, upto: int) -> list[E] | None:
        """The events in ``(since, upto]``, or None if the window does not hold them all."""
        if since < self.base or upto > self.top:
            return None
        if since >= upto:
            return []
        start = since - self.base
        return [self._events[i] for i in range(start, upto - self.base)]


@dataclass(eq=False)
class _Load(Generic[E]):
    """One store read in flight: the events in ``(floor, top]``. It runs as its own task,
    so a reader that goes away while waiting does not cancel it for the others."""

    floor: int
    top: int
    task: asyncio.Task[list[E]] | None = None


class FeedHistory(Generic[E]):
    """A feed's :class:`CatchupWindow` plus single-flight loads of what is older;
    ``make_event`` wraps a ``(rev, payload)`` row of the change log."""

    __slots__ = ("_loading", "budget", "feed", "make_event", "store", "window")

    def __init__(
        self,
        feed: str,
        store: ChangeLog,
        budget: ReadBudget,
        window: CatchupWindow[E],
        make_event: Callable[[int, bytes], E],
    ) -> None:
        self.feed = feed
        self.store = store
        self.budget = budget
        self.window = window
        self.make_event = make_event
        self._loading: _Load[E] | None = None

    async def between(self, since: int, upto: int) -> list[E]:
        """The events in ``(since, upto]``, in rev order, for ``upto`` ≤ the window's top
        (a boundary rev the hub handed out). From the window when it holds them; else
        from one shared store read. May raise :class:`CatchupOverloaded`."""
        for _attempt in range(COMPOSE_ATTEMPTS):
            held = self.window.between(since, upto)
            if held is not None:
                return held
            load = await self._load_covering(since)
            head = [event for event in load if since < event.rev <= upto]
            top = load[-1].rev if load else since
            if top >= upto:
                return head
            tail = self.window.between(top, upto)
            if tail is not None:
                return head + tail
        return await self._read(since, upto)

    async def _load_covering(self, since: int) -> list[E]:
        """Join the load in flight if it reaches down to ``since``, else start one (after
        the one in flight, if any, so there is never more than one per feed)."""
        while True:
            load = self._loading
            if load is None:
                break
            assert load.task is not None
            if load.floor <= since:
                return await asyncio.shield(load.task)
            # It stops above our rev: let it finish (it may fill the window), then load.
            await asyncio.wait([load.task])
        window = self.window
        room = max(0, window.max_events - len(window))
        load = _Load[E](floor=max(0, min(since, window.base - room)), top=window.base)
        load.task = asyncio.ensure_future(self._run(load))
        # Waiters re-raise its error; retrieving it here keeps a load whose waiters all
        # left from being logged as "exception never retrieved".
        load.task.add_done_callback(_retrieve)
        self._loading = load
        return await asyncio.shield(load.task)

    async def _run(self, load: _Load[E]) -> list[E]:
        try:
            events = await self._read(load.floor, load.top)
        finally:
            self._loading = None
        if self.window.base == load.top:
            self.window.prepend(events)
        return events

    async def _read(self, since: int, upto: int) -> list[E]:
        if since >= upto:
            return []
        async with self.budget.slot():
            _rev, rows = await self.store.changes_since(self.feed, since, limit=upto - since)
        return [self.make_event(rev, payload) for rev, payload in rows if rev <= upto]


def _retrieve(task: asyncio.Task[list[E]]) -> None:
    if not task.cancelled():
        task.exception()
