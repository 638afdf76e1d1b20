"""One reader's live stream, independent of transport: catch-up, dedupe, bounded buffer.

Race-free catch-up: the connection is attached to the hub *before* the store is read, and
hub deliveries are held back until the catch-up has been queued; then the held events
are released, dropping any whose rev the catch-up already covered. The result is every
rev after ``since`` exactly once, in order.

Slow-reader bound: the bytes of live events queued for a connection *plus* the batch its
writer is currently sending never exceed ``limit_bytes`` (``LIVEFEED_SEND_BUFFER_BYTES``)
by more than one event. Past it the connection is closed with 4008; from then on its queue
is dropped and further deliveries are ignored, so a reader that never reads costs at most
its bound (plus the transport's own high-water mark) and delays no one.
"""

from __future__ import annotations

import asyncio
from collections import deque

from app.events import hello_event, reset_event
from app.hub import Event, Hub
from app.live.close_codes import SLOW_READER
from app.store import Store


async def catch_up(
    store: Store, feed: str, since: int | None, current: int, catchup_max: int
) -> list[tuple[int, bytes]] | None:
    """What a stream opened at boundary rev ``current`` owes a client resuming from
    ``since``: the logged events in (since, current], in rev order — or None when the client
    must ``reset`` (since ahead of the feed, negative, or more than ``catchup_max`` behind).
    No ``since`` (or nothing missed) owes nothing."""
    if since is None or since == current:
        return []
    if since < 0 or since > current or current - since > catchup_max:
        return None
    _rev, events = await store.changes_since(feed, since, limit=current - since)
    return [(rev, payload) for rev, payload in events if rev <= current]


class ControlEvent(Event):
    """hello/reset: sent in place, never deduplicated against entry revs."""


class LiveConnection:
    """Implements the hub's Subscriber protocol with a byte-bounded queue."""

    __slots__ = (
        "_held",
        "_in_flight",
        "_queue",
        "_queued_bytes",
        "_wakeup",
        "close_code",
        "close_reason",
        "closed",
        "feed",
        "last_rev",
        "limit_bytes",
    )

    def __init__(self, feed: str, limit_bytes: int) -> None:
        self.feed = feed
        self.limit_bytes = limit_bytes
        self.last_rev = 0
        self._held: list[Event] | None = []
        self._queue: deque[Event] = deque()
        self._queued_bytes = 0
        self._in_flight = 0  # bytes of the batch the writer took last and is sending
        self._wakeup = asyncio.Event()
        self.close_code: int | None = None
        self.close_reason = ""
        #: Set once a close is requested (slow reader, drain, client flood).
        self.closed = asyncio.Event()

    # -- hub side -------------------------------------------------------------------------

    def deliver(self, event: Event) -> None:
        if self.close_code is not None:
            return  # cut off: the client resumes with since, nothing more is kept for it
        if self._held is not None:
            self._held.append(event)
            self._queued_bytes += len(event.payload)
            self._check_bound()
            return
        self._push(event)

    def close(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code = code
            self.close_reason = reason
            # Free what was queued now: the writer may be stuck behind a reader that never
            # reads, and the client resumes from the last rev it received anyway.
            self._queue.clear()
            self._held = None if self._held is None else []
            self._queued_bytes = 0
            self.closed.set()
        self._wakeup.set()

    # -- connection side --------------------------------------------------------------------

    async def start(self, hub: Hub, store: Store, since: int | None, catchup_max: int) -> None:
        """Attach to the hub, then queue hello, the catch-up (or a reset), and go live."""
        current = await hub.attach(self.feed, self)
        self._queue_control(hello_event(self.feed, current), current)
        owed = await catch_up(store, self.feed, since, current, catchup_max)
        if owed is None:
            self._queue_control(reset_event(current), current)
        elif owed:
            self.last_rev = since or 0
            for rev, payload in owed:
                self._push(Event(rev, payload))
        self.last_rev = max(self.last_rev, current)
        # The catch-up is bounded by catchup_max events, not by the byte bound: only live
        # events count against limit_bytes, so a long catch-up cannot trip the slow-reader cut.
        held, self._held = self._held or [], None
        self._queued_bytes = 0
        if self.close_code is not None:
            self._queue.clear()
            return
        for event in held:
            self._push(event)

    async def next_batch(self, timeout: float | None = None) -> list[Event] | None:  # noqa: ASYNC109
        """Wait for queued events; return them all (``[]`` on timeout), or None once closed.

        Calling it again means the previous batch was handed to the transport: until then
        that batch still counts against the bound. A close request wins over queued events:
        a slow reader is cut off, and a draining server stops sending; either way the client
        resumes from the last rev it received.
        """
        self._queued_bytes -= self._in_flight
        self._in_flight = 0
        while not self._queue and self.close_code is None:
            self._wakeup.clear()
            if timeout is None:
                await self._wakeup.wait()
            else:
                try:
                    await asyncio.wait_for(self._wakeup.wait(), timeout)
                except TimeoutError:
                    return []
        if self.close_code is not None:
            return None
        batch = list(self._queue)
        self._queue.clear()
        self._in_flight = self._queued_bytes
        return batch

    # -- internals ------------------------------------------------------------------------

    def _queue_control(self, payload: bytes, rev: int) -> None:
        self._queue.append(ControlEvent(rev, payload))
        self._wakeup.set()

    def _push(self, event: Event) -> None:
        if event.rev <= self.last_rev:
            return
        self.last_rev = event.rev
        self._queue.append(event)
        self._queued_bytes += len(event.payload)
        self._check_bound()
        self._wakeup.set()

    def _check_bound(self) -> None:
        if self._queued_bytes > self.limit_bytes:
            self.close(SLOW_READER.code, SLOW_READER.reason)
