"""Local fan-out: one process's readers of each feed, fed in rev order without gaps.

The hub is where the delivery guarantee is made. For every feed that has local readers it
keeps ``last_rev``, the last revision it delivered. A change is delivered only if its rev
is ``last_rev + 1``; an older one is dropped (already delivered), a newer one means a gap,
which is filled from the store's change log before anything else is delivered. Changes
arrive from this process's own writes (immediately after commit) and from the broker
(other processes). While the broker is down, the hub polls the store every
``store_poll_seconds`` for feeds with readers (every ``resync_seconds`` while it is up), and
after it reconnects it catches every such feed up once — so a reader never misses a change
and never sees one twice.

Each event is wrapped once per process in an :class:`Event`, whose wire encodings are
computed lazily, once, and shared by every subscriber.

Per feed, the hub also keeps the latest events it delivered in a bounded window
(:mod:`app.catchup`): a reader resuming within it is caught up from memory
(:meth:`Hub.catch_up`), and older events are loaded from the store once per feed, however
many readers need them, within a read budget that leaves the pool to writers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from app.brokers.base import Broker, BrokerUnavailable
from app.catchup import CatchupWindow, FeedHistory, ReadBudget
from app.events import UNSEQUENCED, Change, event_kind, readers_event
from app.live.frames import OP_TEXT, frame
from app.store import NotFound, Store

log = logging.getLogger(__name__)

FILL_PAGE = 500
#: Close code for a subscriber whose ``deliver`` raised: it is detached and told to go
#: (a reader reconnects with ``since``; a watcher stops answering from its stale copy).
CLOSE_DELIVERY_FAILED = 1011


class Event:
    """A change as the transports send it; each encoding is computed once per process."""

    __slots__ = ("__dict__", "payload", "rev")

    #: Wall-clock ns at which the writer published the change (0: unknown, e.g. read back
    #: from the store); the metrics hook measures publish-to-delivery latency from it.
    origin_ns = 0

    def __init__(self, rev: int, payload: bytes) -> None:
        self.rev = rev
        self.payload = payload

    @cached_property
    def kind(self) -> str:
        """``entry``, ``feed``, ``hello`` or ``reset`` (see :func:`app.events.event_kind`)."""
        return event_kind(self.payload)

    @cached_property
    def text(self) -> str:
        return self.payload.decode()

    @cached_property
    def ws_frame(self) -> bytes:
        """The complete WebSocket text frame, built once and written to every reader."""
        return frame(OP_TEXT, self.payload)

    @cached_property
    def sse(self) -> bytes:
        if self.rev == UNSEQUENCED:  # no id: the client's Last-Event-ID stays its last rev
            return b"event: %s\ndata: %s\n\n" % (self.kind.encode(), self.payload)
        return b"id: %d\nevent: %s\ndata: %s\n\n" % (self.rev, self.kind.encode(), self.payload)


class Subscriber(Protocol):
    """A live connection as the hub sees it.

    ``deliver`` is called in rev order, never twice for a rev, and must not block: it
    appends to the connection's bounded send buffer (or closes the connection if the
    buffer is over its bound — the reader then resumes with ``since``).
    """

    def deliver(self, event: Event) -> None: ...

    def close(self, code: int, reason: str) -> None:
        """Ask the connection to close (non-blocking): when the server drains, and with
        :data:`CLOSE_DELIVERY_FAILED` after its ``deliver`` raised (it is then already
        detached and gets nothing more)."""


def is_reader(subscriber: Subscriber) -> bool:
    """Readers are connections; other subscribers (``is_reader = False``, such as
    :class:`app.watched.FeedWatcher`) only follow a feed and are not counted as readers."""
    return bool(getattr(subscriber, "is_reader", True))


@dataclass(eq=False)
class _Channel:
    feed: str
    last_rev: int
    history: FeedHistory[Event]
    subscribers: set[Subscriber] = field(default_factory=set)
    readers: int = 0  # subscribers that are connections (see is_reader)
    #: The last ``readers`` event announced (app.presence) and its count: new readers get it
    #: on attach. None on a new channel and once its last reader left (a count from before).
    presence: Event | None = None
    presence_count: int | None = None
    target_rev: int = 0
    filling: asyncio.Task[None] | None = None


class Hub:
    def __init__(
        self,
        store: Store,
        broker: Broker,
        *,
        store_poll_seconds: float = 1.0,
        resync_seconds: float = 5.0,
        window_events: int = 500,
        window_bytes: int = 512 * 1024,
        read_budget: ReadBudget | None = None,
    ) -> None:
        self.store = store
        self.broker = broker
        self.store_poll_seconds = store_poll_seconds
        self.resync_seconds = resync_seconds
        self.window_events = window_events
        self.window_bytes = window_bytes
        #: Bounds catch-up reads of the store (see :mod:`app.catchup`).
        self.read_budget = read_budget or ReadBudget(slots=4, wait_seconds=5.0)
        self._poll_wakeup = asyncio.Event()
        self._channels: dict[str, _Channel] = {}
        self._poller: asyncio.Task[None] | None = None
        self._attach_lock: dict[str, asyncio.Lock] = {}
        #: Observers for metrics: called with (feed, number of subscribers) per delivery.
        self.on_delivered: Callable[[Event, int], None] | None = None
        self.catchups = 0
        self._tasks: set[asyncio.Task[None]] = set()
        #: Set by :meth:`close_all`: the (code, reason) every later attach is closed with.
        self._closed_with: tuple[int, str] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        await self.broker.start(self._on_broker_message, self._on_broker_state)
        self._poller = asyncio.create_task(self._poll(), name="hub-poller")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        fills = [c.filling for c in self._channels.values() if c.filling is not None]
        for task in fills:
            task.cancel()
        # Wait for them: the store is closed next, under their feet otherwise.
        await asyncio.gather(*fills, return_exceptions=True)
        await self.broker.stop()

    # -- subscribers --------------------------------------------------------------------

    async def attach(self, feed: str, subscriber: Subscriber) -> int:
        """Start delivering ``feed``'s changes to ``subscriber``; return the boundary rev.

        Every change with a rev above the returned one reaches the subscriber, in order,
        and nothing at or below it does: the caller reads the store up to that rev for
        what came before (catch-up; see :mod:`app.live.connection`). No store read is
        needed when the process already has readers of the feed.

        After :meth:`close_all` (the process is draining) the subscriber is closed with
        the same code instead and not attached, even when its attach began before the
        drain: nobody is left live on a stopping process.
        """
        channel = self._channels.get(feed)
        if channel is None:
            lock = self._attach_lock.setdefault(feed, asyncio.Lock())
            async with lock:
                channel = self._channels.get(feed)
                if channel is None:
                    await self.broker.subscribe(feed)
                    # Subscribed first, then read the rev: nothing can fall in between.
                    rev = await self.store.current_rev(feed)
                    channel = _Channel(feed, rev, self._history(feed, rev), target_rev=rev)
                    self._channels[feed] = channel
            # Only needed while the channel is being created; don't keep one per feed ever seen.
            if self._attach_lock.get(feed) is lock:
                del self._attach_lock[feed]
        if self._closed_with is not None:
            subscriber.close(*self._closed_with)
            return channel.last_rev
        if subscriber not in channel.subscribers:
            channel.subscribers.add(subscriber)
            channel.readers += is_reader(subscriber)
            if channel.presence is not None and is_reader(subscriber):
                subscriber.deliver(channel.presence)  # held by the session until it is live
        return channel.last_rev

    def _history(self, feed: str, rev: int) -> FeedHistory[Event]:
        window = CatchupWindow[Event](rev, self.window_events, self.window_bytes)
        return FeedHistory(feed, self.store, self.read_budget, window, Event)

    async def catch_up(self, feed: str, since: int, upto: int) -> list[Event]:
        """The events of ``feed`` in ``(since, upto]``, in rev order, for a subscriber the
        hub attached at boundary rev ``upto`` (so it must still be attached). From the
        feed's window when it holds them (no store read); else from one store read shared
        by every subscriber of the feed that needs one at the time.

        Raises :class:`app.catchup.CatchupOverloaded` when the store is over its read
        budget (the reader should retry later), ``KeyError`` if the feed has no channel.
        """
        return await self._channels[feed].history.between(since, upto)

    def detach(self, feed: str, subscriber: Subscriber) -> None:
        channel = self._channels.get(feed)
        if channel is None:
            return
        if subscriber in channel.subscribers:
            channel.subscribers.discard(subscriber)
            channel.readers -= is_reader(subscriber)
            if not channel.readers:
                channel.presence = channel.presence_count = None
        if not channel.subscribers:
            del self._channels[feed]
            if channel.filling is not None:
                channel.filling.cancel()
            self._background(self._unsubscribe_if_idle(feed))

    def replace(self, feed: str, old: Subscriber, new: Subscriber) -> None:
        """Deliver to ``new`` from the next change on, in ``old``'s place (a stream going
        live hands its transport's subscriber over: :mod:`app.live.session`). Nothing
        happens if ``old`` is no longer attached."""
        channel = self._channels.get(feed)
        if channel is None or old not in channel.subscribers:
            return
        channel.subscribers.discard(old)
        channel.subscribers.add(new)
        channel.readers += is_reader(new) - is_reader(old)

    async def _unsubscribe_if_idle(self, feed: str) -> None:
        # Under the attach lock, and only if no reader came back meanwhile: otherwise a
        # quick reconnect could find the feed still subscribed (a no-op subscribe) and then
        # lose the subscription to this late unsubscribe.
        async with self._attach_lock.setdefault(feed, asyncio.Lock()):
            if feed not in self._channels:
                await self.broker.unsubscribe(feed)

    def close_all(self, code: int, reason: str) -> None:
        """Ask every live connection to close (graceful drain: clients reconnect elsewhere),
        and every one that attaches from now on (see :meth:`attach`)."""
        self._closed_with = (code, reason)
        for channel in list(self._channels.values()):
            for subscriber in list(channel.subscribers):
                subscriber.close(code, reason)

    def reader_counts(self) -> dict[str, int]:
        """Readers (connections) of this process per feed that has any."""
        return {feed: c.readers for feed, c in self._channels.items() if c.readers}

    def announce_readers(self, feed: str, count: int) -> None:
        """Hand ``feed``'s readers a ``readers`` event (:func:`app.events.readers_event`), one
        pre-framed write per reader, and keep it for readers who attach later. Not a change:
        no rev, no log, no broker."""
        channel = self._channels.get(feed)
        if channel is None:
            return
        event = Event(UNSEQUENCED, readers_event(count))
        channel.presence, channel.presence_count = event, count
        for subscriber in list(channel.subscribers):
            if is_reader(subscriber):
                try:
                    subscriber.deliver(event)
                except Exception:
                    log.exception("readers event to a subscriber of %s failed", feed)
                    self.detach(feed, subscriber)
                    subscriber.close(CLOSE_DELIVERY_FAILED, "delivery failed")

    def announced_readers(self, feed: str) -> int | None:
        """The count last announced to ``feed``'s current channel; None when its readers
        have not been told one (a new channel, or all its readers left since)."""
        channel = self._channels.get(feed)
        return channel.presence_count if channel is not None else None

    def subscriber_count(self, feed: str | None = None) -> int:
        """Readers (connections) of ``feed``, or of every feed."""
        if feed is not None:
            channel = self._channels.get(feed)
            return channel.readers if channel else 0
        return sum(c.readers for c in self._channels.values())

    # -- changes in -----------------------------------------------------------------------

    async def publish(self, changes: Sequence[Change]) -> None:
        """Called by writers after commit with every change the write logged, in rev
        order: deliver locally now, then tell other processes.

        A broker failure is logged, not raised: the changes are committed, and other
        processes pick them up from the store (poll while the broker is down, catch-up
        after).
        """
        now = time.time_ns()
        stamped = [
            change if change.published_ns else dataclasses.replace(change, published_ns=now)
            for change in changes
        ]
        for change in stamped:
            self._on_change(change)
        if self.broker.in_process:
            return
        for change in stamped:
            try:
                await self.broker.publish(change)
            except BrokerUnavailable as exc:
                log.warning("broker publish failed for %s@%d: %s", change.feed, change.rev, exc)

    def _on_broker_message(self, change: Change) -> None:
        self._on_change(change)

    def _on_change(self, change: Change) -> None:
        channel = self._channels.get(change.feed)
        if channel is None or change.rev <= channel.last_rev:
            return
        if change.rev == channel.last_rev + 1 and channel.filling is None:
            event = Event(change.rev, change.payload)
            event.origin_ns = change.published_ns
            self._deliver(channel, event)
            return
        channel.target_rev = max(channel.target_rev, change.rev)
        self._start_fill(channel)

    def _deliver(self, channel: _Channel, event: Event) -> None:
        channel.last_rev = event.rev
        channel.target_rev = max(channel.target_rev, event.rev)
        channel.history.window.append(event)
        for subscriber in list(channel.subscribers):
            try:
                subscriber.deliver(event)
            except Exception:
                log.exception("subscriber failed; detaching it")
                self.detach(channel.feed, subscriber)
                # Detached, it would otherwise sit frozen at this rev: tell it to go.
                try:
                    subscriber.close(CLOSE_DELIVERY_FAILED, "internal error: reconnect")
                except Exception:
                    log.exception("closing a failed subscriber failed")
        if self.on_delivered is not None:
            self.on_delivered(event, channel.readers)

    # -- gap filling ----------------------------------------------------------------------

    def _start_fill(self, channel: _Channel) -> None:
        if channel.filling is None:
            channel.filling = asyncio.create_task(self._fill(channel), name=f"fill:{channel.feed}")

    async def _fill(self, channel: _Channel) -> None:
        """Read the change log until ``last_rev`` reaches ``target_rev``, delivering in order."""
        try:
            while (
                channel.last_rev < channel.target_rev
                and self._channels.get(channel.feed) is channel
            ):
                try:
                    _rev, events = await self.store.changes_since(
                        channel.feed, channel.last_rev, limit=FILL_PAGE
                    )
                except NotFound:
                    return
                self.catchups += 1
                if not events:
                    # Target announced but not visible yet (should not happen: changes are
                    # published after commit). Stop; the next change or poll retries.
                    return
                for rev, payload in events:
                    if rev > channel.last_rev:
                        self._deliver(channel, Event(rev, payload))
        except Exception:
            log.exception("catch-up of %s failed; will retry on next change or poll", channel.feed)
        finally:
            channel.filling = None

    async def sync(self, feed: str) -> None:
        """Bring ``feed`` up to the store's current rev (used after reconnect and by polls)."""
        channel = self._channels.get(feed)
        if channel is None:
            return
        try:
            rev = await self.store.current_rev(feed)
        except NotFound:
            return
        if rev > channel.last_rev:
            channel.target_rev = max(channel.target_rev, rev)
            self._start_fill(channel)
            task = channel.filling
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(task)

    # -- broker state and the safety poll --------------------------------------------------

    def _on_broker_state(self, connected: bool) -> None:
        if connected:
            # Messages may have been lost while disconnected: catch every feed up once.
            for feed in list(self._channels):
                self._background(self.sync(feed))
        else:
            log.warning("broker down: polling the store every %.1fs", self.store_poll_seconds)
        self._poll_wakeup.set()

    async def _poll(self) -> None:
        """Re-read the rev of every feed with readers: every ``store_poll_seconds`` while the
        broker is down, every ``resync_seconds`` while it is up. The latter covers a writer
        that died between its commit and its publish, which no broker can report."""
        while True:
            interval = self.resync_seconds if self.broker.connected else self.store_poll_seconds
            self._poll_wakeup.clear()
            # asyncio.timeout, not wait_for: on Python 3.11, wait_for swallows a cancel
            # that lands as the wakeup fires, and stop() would then wait forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._poll_wakeup.wait()
            for feed in list(self._channels):
                try:
                    await self.sync(feed)
                except Exception:
                    log.exception("store poll of %s failed", feed)

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
