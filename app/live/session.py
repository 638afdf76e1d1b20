"""One reader's live stream, whatever carries it: the session every transport adapts.

A :class:`StreamSession` owns the life of one stream, in this order of states::

    ADMITTING ──► ATTACHED ──► CATCHING_UP ──► LIVE
        │             │              │           │
        └─────────────┴──────┬───────┴───────────┘
                             ▼
                          CLOSING ──► CLOSED      (the peer may vanish in any state: CLOSED)

- **ADMITTING**: the :class:`Admission` decides (unknown feed, draining, origin, caps); a
  refusal closes the session with its code before anything else happens.
- **ATTACHED**: the session is a hub subscriber. The hub returns its boundary rev; every
  change above it reaches :meth:`StreamSession.deliver`, in order, exactly once.
- **CATCHING_UP**: the catch-up provider (:data:`CatchUp`) reads what the client missed up
  to the boundary. Live deliveries meanwhile are *held*, in a list bounded by bytes
  (``limit_bytes``; past it: 4008).
- **LIVE**: hello and the catch-up (or a ``reset``), then the held events less every rev
  the catch-up covered, are handed to the sink in one ``send`` (one write on the native
  path); then the sink's live subscriber (:meth:`Sink.live`) takes the session's place in
  the hub, so each delivery goes straight to the transport side: one object per reader in
  the fan-out loop (the native path: the socket's protocol, one ``transport.write``).
  Race-free: attached *before* reading, deduplicated by rev, so the client gets every rev
  after ``since`` exactly once, in order.
- **CLOSING**: a close was asked for (slow reader, drain, client flood, overload, refusal):
  the session is detached from the hub at once, holds nothing, and has told the sink to
  end with the code; the transport may still be flushing the close.
- **CLOSED**: the transport is gone; the admission is released. Detach, release and the
  metrics each happen exactly once, whatever state the session ended from.

Slow-reader bound: the live subscriber checks the bytes the transport still has to send
after each event; past ``limit_bytes`` it closes the session with 4008 and the client
resumes with ``since``.
The catch-up itself is bounded by count (``LIVEFEED_CATCHUP_MAX_EVENTS``), not by this.

The session has no task, queue or timer of its own: a transport that writes to a socket
directly (:mod:`app.live.native_ws`) is a sink that is its own live subscriber, one
``transport.write`` per event; queued transports (:mod:`app.live.ws`,
:mod:`app.live.sse`) use :class:`EventQueue`, whose live subscriber is a
:class:`QueuedLive`.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from starlette.requests import HTTPConnection

from app.catchup import CatchupOverloaded
from app.events import UNSEQUENCED, hello_event, reset_event
from app.hub import Event, Subscriber
from app.hub import Hub as FeedHub
from app.live import access
from app.live.close_codes import (
    INTERNAL_ERROR,
    POLICY,
    SLOW_READER,
    TRY_AGAIN_LATER,
    UNKNOWN_FEED,
)
from app.live.connection import catch_up
from app.live.flood import MessageRate
from app.metrics import Metrics
from app.state import AppState
from app.watched import current_feed

log = logging.getLogger(__name__)

#: What a stream attached at boundary rev ``current`` owes a client resuming from
#: ``since``: ``(feed, since, current) -> events in (since, current] | None`` (None: the
#: client must ``reset``). The one call the session makes to read the past.
CatchUp = Callable[[str, int | None, int], Awaitable[Sequence[Event] | None]]


class StreamState(enum.Enum):
    ADMITTING = "admitting"
    ATTACHED = "attached"
    CATCHING_UP = "catching_up"
    LIVE = "live"
    CLOSING = "closing"
    CLOSED = "closed"


_LIVE = StreamState.LIVE  # module global: read on every queued delivery
_ENDED = (StreamState.CLOSING, StreamState.CLOSED)


class ControlEvent(Event):
    """hello/reset: sent in place, never deduplicated against entry revs."""


class Sink(Protocol):
    """Where a session's bytes go: the transport side, which only moves them."""

    def send(self, events: Sequence[Event]) -> None:
        """Hello, the catch-up (or reset) and the held events, in order, once; not counted
        against the bound (the held events are bounded by it already)."""

    def live(self, session: StreamSession, covered: int) -> Subscriber:
        """The hub's subscriber from now on, in the session's place (called once, as the
        session goes live, right after :meth:`send`). Its ``deliver`` must: drop any
        sequenced rev at or below ``covered`` (the opening covered it; an unsequenced
        event always passes), write the event, and close ``session`` with 4008 once the
        bytes not yet handed to the peer exceed ``session.limit_bytes``; deliver nothing
        once the session is closing. Its ``close`` closes ``session``."""

    def end(self, code: int, reason: str) -> None:
        """Close with ``code`` after what is already sent (non-blocking); called once."""


class Hub(Protocol):
    """The part of :class:`app.hub.Hub` a session uses."""

    async def attach(self, feed: str, subscriber: Subscriber) -> int: ...

    def detach(self, feed: str, subscriber: Subscriber) -> None: ...

    def replace(self, feed: str, old: Subscriber, new: Subscriber) -> None: ...


class Admission(Protocol):
    """Who may open this stream (:mod:`app.live.access`)."""

    async def admit(self) -> tuple[int, str] | None:
        """Count the stream in, or return the (close code, reason) refusing it."""

    def release(self) -> None:
        """Undo a successful :meth:`admit` (called once, when the transport is gone)."""


class StreamSession:
    """One stream's lifecycle (see the module docstring); the hub's Subscriber."""

    __slots__ = (
        "_admission",
        "_admitted",
        "_attached",
        "_catch_up",
        "_held",
        "_held_bytes",
        "_hub",
        "_metrics",
        "_rate",
        "_subscriber",
        "close_code",
        "close_reason",
        "feed",
        "limit_bytes",
        "sink",
        "state",
        "transport",
        "went_live",
    )

    def __init__(
        self,
        feed: str,
        *,
        hub: Hub,
        admission: Admission,
        catch_up: CatchUp,
        sink: Sink,
        limit_bytes: int,
        max_messages_per_minute: int,
        metrics: Metrics | None = None,
        transport: str = "websocket",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.feed = feed
        self.sink = sink
        self.limit_bytes = limit_bytes
        self.transport = transport
        self.state = StreamState.ADMITTING
        self.close_code: int | None = None
        self.close_reason = ""
        #: Hello was handed to the sink (the stream reached LIVE).
        self.went_live = False
        self._hub = hub
        self._admission = admission
        self._catch_up = catch_up
        self._metrics = metrics
        #: The connection's one flood count (data frames and pings: :mod:`app.live.flood`).
        self._rate = MessageRate(max_messages_per_minute, clock)
        self._admitted = False
        self._attached = False
        self._held: list[Event] | None = None  # created when an event must wait
        self._held_bytes = 0
        #: What the hub delivers to: this session while opening, the sink's once live.
        self._subscriber: Subscriber = self

    @property
    def refused(self) -> bool:
        """Closed before going live (refused, or ended while opening): nothing was sent."""
        return self.close_code is not None and not self.went_live

    # -- opening ------------------------------------------------------------------------------

    async def open(self, since: int | None) -> None:
        """Admit, attach, catch up, go live. Returns once LIVE, or once closed (see
        :attr:`close_code`). The transport may vanish at any await: each step checks, and
        what was done is undone exactly once by :meth:`transport_closed`."""
        try:
            refusal = await self._admission.admit()
            if refusal is not None:
                self.close(*refusal)
                return
            if self.state is StreamState.CLOSED:
                self._admission.release()  # the transport left while we were admitting
                return
            self._admitted = True  # released by transport_closed, exactly once
            if self.state is not StreamState.ADMITTING:
                return  # closed while admitting
            current = await self._hub.attach(self.feed, self)
            self._attached = True
            if self._metrics is not None:
                self._metrics.open_connections.labels(self.transport).inc()
            if self.state is not StreamState.ADMITTING:
                self._detach()  # closed while attaching
                return
            self.state = StreamState.ATTACHED
            await self._catch_up_to(since, current)
        except CatchupOverloaded:
            # The store is over its catch-up read budget: retry later, never 1011.
            self.close(TRY_AGAIN_LATER.code, TRY_AGAIN_LATER.reason)
        except Exception:
            log.exception("opening a live stream for %s failed", self.feed)
            self.close(INTERNAL_ERROR.code, INTERNAL_ERROR.reason)

    async def _catch_up_to(self, since: int | None, current: int) -> None:
        self.state = StreamState.CATCHING_UP
        owed = await self._catch_up(self.feed, since, current)
        if self.state is not StreamState.CATCHING_UP:
            return  # closed meanwhile (drain, held bytes over the bound, peer gone)
        if since is not None and self._metrics is not None:
            self._metrics.catchups_served.labels(self.transport).inc()
        hello = ControlEvent(current, hello_event(self.feed, current))
        if owed is None:
            opening: list[Event] = [hello, ControlEvent(current, reset_event(current))]
            last = current
        else:
            opening = [hello, *owed]
            # A provider may read past the boundary (a window fed by the same stream):
            # whatever it covered is not sent again from the held events.
            last = max(current, owed[-1].rev) if owed else current
        # The held events (bounded by bytes, see deliver) go out in the same write: one
        # write per opening stream, which is what a restart storm is made of.
        for event in self._held or ():
            if event.rev == UNSEQUENCED:
                opening.append(event)
            elif event.rev > last:
                last = event.rev
                opening.append(event)
        self._held, self._held_bytes = None, 0
        self.sink.send(opening)
        self.went_live = True
        self.state = StreamState.LIVE
        # From here on the hub delivers to the sink's own subscriber, not through this
        # session: the fan-out loop touches one object per reader (see Sink.live).
        live = self.sink.live(self, last)
        self._hub.replace(self.feed, self, live)
        self._subscriber = live

    # -- hub side -----------------------------------------------------------------------------

    def deliver(self, event: Event) -> None:
        """Hub callback while the stream opens (attached, catching up), in rev order: hold
        the event (bounded by bytes: past ``limit_bytes``, 4008) until the opening write;
        dropped once ended. Once live the hub calls the sink's subscriber instead."""
        if self.state in _ENDED:
            return
        if self._held is None:
            self._held = []
        self._held.append(event)
        self._held_bytes += len(event.payload)
        if self._held_bytes > self.limit_bytes:
            self.close(SLOW_READER.code, SLOW_READER.reason)

    def close(self, code: int, reason: str) -> None:
        """End the stream with ``code`` (non-blocking; first call wins): detach at once,
        drop what is held, tell the sink. Also the hub's drain call."""
        if self.state in _ENDED:
            return
        self.state = StreamState.CLOSING
        self.close_code, self.close_reason = code, reason
        self._held, self._held_bytes = None, 0
        self._detach()
        if code == SLOW_READER.code and self._metrics is not None:
            self._metrics.slow_reader_disconnects.labels(self.transport).inc()
        self.sink.end(code, reason)

    # -- transport side -----------------------------------------------------------------------

    def client_message(self) -> bool:
        """The client sent a frame (a data frame or a ping; every transport counts both
        here, on one count): readers have nothing to say, so more than
        ``max_messages_per_minute`` in a minute closes the stream with 1008. Return whether
        the frame is within the limit (False: do not answer it; the close is on its way)."""
        if self._rate.count():
            return True
        self.close(POLICY.code, "too many messages")
        return False

    def transport_closed(self) -> None:
        """The transport is gone (peer left, close completed, aborted): CLOSED. Undoes
        attach and admission, each exactly once; safe to call again."""
        if self.state is StreamState.CLOSED:
            return
        self.state = StreamState.CLOSED
        self._held, self._held_bytes = None, 0
        self._detach()
        if self._admitted:
            self._admitted = False
            self._admission.release()

    def _detach(self) -> None:
        if self._attached:
            self._attached = False
            self._hub.detach(self.feed, self._subscriber)
            if self._metrics is not None:
                self._metrics.open_connections.labels(self.transport).dec()


class EventQueue:
    """A :class:`Sink` for transports that write from a task (ASGI WebSocket, SSE): a
    queue whose byte count covers queued live events *plus* the batch the writer is
    sending, so a reader that never reads costs at most the bound."""

    __slots__ = ("_ended", "_in_flight", "_queue", "_queued_bytes", "_wakeup", "ended")

    def __init__(self) -> None:
        self._queue: deque[Event] = deque()
        self._queued_bytes = 0
        self._in_flight = 0  # bytes of the batch the writer took last and is sending
        self._ended = False
        self._wakeup = asyncio.Event()
        #: Set by :meth:`end`: wait on it to stop a writer stuck behind a reader that
        #: does not read.
        self.ended = asyncio.Event()

    def send(self, events: Sequence[Event]) -> None:
        self._queue.extend(events)
        self._wakeup.set()

    def push(self, event: Event) -> int:
        """Queue one event; return the bytes queued and in flight (what the bound counts)."""
        self._queued_bytes += len(event.payload)
        self._queue.append(event)
        self._wakeup.set()
        return self._queued_bytes

    def live(self, session: StreamSession, covered: int) -> Subscriber:
        return QueuedLive(session, self.push, covered)

    def end(self, code: int, reason: str) -> None:
        # Free what was queued now: the writer may be stuck behind a reader that never
        # reads, and the client resumes from the last rev it received anyway.
        self._ended = True
        self.ended.set()
        self._queue.clear()
        self._queued_bytes = self._in_flight = 0
        self._wakeup.set()

    async def next_batch(self, timeout: float | None = None) -> list[Event] | None:  # noqa: ASYNC109
        """Wait for queued events; return them all (``[]`` on timeout), or None once ended.

        Calling it again means the previous batch was handed to the transport: until then
        that batch still counts against the bound. An end wins over queued events.
        """
        self._queued_bytes -= self._in_flight
        self._in_flight = 0
        while not self._queue and not self._ended:
            self._wakeup.clear()
            if timeout is None:
                await self._wakeup.wait()
            else:
                # asyncio.timeout, not wait_for: on Python 3.11, wait_for swallows a
                # cancel that lands as the wakeup fires, and the writer would run on.
                try:
                    async with asyncio.timeout(timeout):
                        await self._wakeup.wait()
                except TimeoutError:
                    return []
        if self._ended:
            return None
        batch = list(self._queue)
        self._queue.clear()
        self._in_flight = self._queued_bytes
        return batch


class QueuedLive:
    """The hub's subscriber for a live stream whose sink queues (:class:`EventQueue`): the
    rev check, one ``push``, the send bound (see :meth:`Sink.live`)."""

    __slots__ = ("_covered", "_push", "_session")

    def __init__(self, session: StreamSession, push: Callable[[Event], int], covered: int) -> None:
        self._session = session
        self._push = push
        self._covered = covered

    def deliver(self, event: Event) -> None:
        session = self._session
        if session.state is not _LIVE:
            return  # closing: the hub is still in the loop that detached us
        rev = event.rev
        if rev != UNSEQUENCED:
            if rev <= self._covered:
                return  # the opening covered it
            self._covered = rev
        try:
            backlog = self._push(event)
        except Exception:
            # The hub would detach us without the transport knowing: close instead, so
            # the client resumes with since rather than waiting on a dead stream.
            log.exception("live stream of %s failed to send", session.feed)
            session.close(INTERNAL_ERROR.code, INTERNAL_ERROR.reason)
            return
        if backlog > session.limit_bytes:
            session.close(SLOW_READER.code, SLOW_READER.reason)

    def close(self, code: int, reason: str) -> None:
        self._session.close(code, reason)


class AppAdmission:
    """:class:`Admission` for a running app: the feed must exist (else 4404), then
    :func:`app.live.access.admit` decides."""

    __slots__ = ("_conn", "_slug", "_state")

    def __init__(self, state: AppState, conn: HTTPConnection, slug: str) -> None:
        self._state, self._slug = state, slug
        self._conn: HTTPConnection | None = conn

    async def admit(self) -> tuple[int, str] | None:
        conn = self._conn
        assert conn is not None, "admitted once"
        feed = await current_feed(self._state, self._slug)
        if feed is None:
            return UNKNOWN_FEED.code, f"feed {self._slug!r} not found"
        # The request is not needed again: a live stream holds no copy of its headers.
        self._conn = None
        return access.admit(self._state, conn, feed)

    def release(self) -> None:
        """Nothing to undo: :func:`access.admit` counts nothing. The address place taken at
        the handshake (:func:`access.reserve`) is the transport's to give back, since it
        is taken before any session exists and must be returned even if none opens."""


class HubCatchUp:
    """The app's :data:`CatchUp` provider (the one place that decides where the past is
    read: the hub's window, else one shared, budgeted store read — see :mod:`app.catchup`);
    one per app, shared by its sessions. May raise
    :class:`app.catchup.CatchupOverloaded`."""

    __slots__ = ("_hub", "_max_events")

    def __init__(self, hub: FeedHub, max_events: int) -> None:
        self._hub, self._max_events = hub, max_events

    async def __call__(self, feed: str, since: int | None, current: int) -> list[Event] | None:
        return await catch_up(self._hub, feed, since, current, self._max_events)


_providers: weakref.WeakKeyDictionary[AppState, CatchUp] = weakref.WeakKeyDictionary()


def app_catch_up(state: AppState) -> CatchUp:
    """``state``'s catch-up provider, created once per app."""
    provider = _providers.get(state)
    if provider is None:
        provider = _providers[state] = HubCatchUp(state.hub, state.settings.catchup_max_events)
    return provider


def app_session(
    state: AppState,
    conn: HTTPConnection,
    slug: str,
    sink: Sink,
    *,
    metrics: Metrics | None,
    transport: str,
) -> StreamSession:
    """A session wired to the running app: its hub, admission, catch-up and settings."""
    settings = state.settings
    return StreamSession(
        slug,
        hub=state.hub,
        admission=AppAdmission(state, conn, slug),
        catch_up=app_catch_up(state),
        sink=sink,
        limit_bytes=settings.send_buffer_bytes,
        max_messages_per_minute=settings.client_max_messages_per_minute,
        metrics=metrics,
        transport=transport,
    )
