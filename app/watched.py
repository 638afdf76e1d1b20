"""Watched feeds: a process's live copy of a feed's record and current rev, kept by the hub.

Pages and live connections need a feed's record (title, status, allowed origins) and its
current rev on every request. Instead of reading the database each time, the first lookup
reads it once and attaches a :class:`FeedWatcher` to the hub, which then delivers every
change of that feed in rev order — gap-filled from the store, through Redis from other
processes, by polling while Redis is down. Later lookups are a dictionary read. Lookups of
a feed not watched yet are single-flight: however many requests ask at once (readers
reconnecting after a restart), one store read serves them all.

A watched rev may trail the database by the broker's latency (at most
``LIVEFEED_STORE_POLL_SECONDS`` while Redis is down). Every consumer tolerates that: a page
rendered at rev R resumes its live stream from R, and a stream opened at R catches up.

A watcher is dropped — the next lookup reads the store and watches afresh — when the hub
closes it (drain, or a delivery to it failed, after which the hub has detached it and it
would otherwise serve a frozen rev), and when nobody has looked it up for ``idle_seconds``
while the feed has no live readers in this process, so a process stays subscribed (in
Redis) only to feeds it serves.

:class:`WatchedFeeds` is created by the app's lifespan and owned by its
:class:`~app.state.AppState`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from app.events import feed_record_json
from app.hub import Event, Hub
from app.schemas import Feed
from app.store import Store

if TYPE_CHECKING:
    from app.state import AppState

MAX_WATCHED = 1000  # feeds one process keeps watching; beyond this, lookups read the store
IDLE_SECONDS = 300.0  # unused this long (and no readers): stop watching
SWEEP_SECONDS = 60.0


class FeedWatcher:
    """Hub subscriber that keeps one feed's latest record and rev."""

    __slots__ = ("_feed", "_owner", "rev", "slug", "used")
    is_reader = False  # follows the feed for this process; not a connection

    def __init__(self, feed: Feed, owner: WatchedFeeds) -> None:
        self._feed = feed
        self._owner = owner
        self.rev = feed.rev
        self.slug = feed.slug
        self.used = owner.clock()

    def deliver(self, event: Event) -> None:
        if event.kind == "feed":
            self._feed = Feed.model_validate_json(feed_record_json(event.payload))
        self.rev = max(self.rev, event.rev)

    def close(self, code: int, reason: str) -> None:
        # The hub is draining, or detached us after a failed delivery: either way this copy
        # stops following the feed, so stop answering from it.
        self._owner.drop(self)

    def refresh(self, feed: Feed) -> None:
        if feed.rev >= self._feed.rev:
            self._feed = feed
        self.rev = max(self.rev, feed.rev)

    @property
    def feed(self) -> Feed:
        """The feed record as of the latest rev seen (entry changes only move ``rev``).
        Reading it counts as a use (see ``IDLE_SECONDS``)."""
        self.used = self._owner.clock()
        if self._feed.rev != self.rev:
            self._feed = self._feed.model_copy(update={"rev": self.rev})
        return self._feed


class WatchedFeeds:
    """The feeds this process keeps current through the hub, by slug."""

    def __init__(
        self,
        store: Store,
        hub: Hub,
        draining: asyncio.Event,
        *,
        max_watched: int = MAX_WATCHED,
        idle_seconds: float = IDLE_SECONDS,
        sweep_seconds: float = SWEEP_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.hub = hub
        self.draining = draining
        self.max_watched = max_watched
        self.idle_seconds = idle_seconds
        self.sweep_seconds = sweep_seconds
        self.clock = clock
        self._watchers: dict[str, FeedWatcher] = {}
        self._lookups: dict[str, asyncio.Task[Feed | None]] = {}
        self._swept_at = clock()

    def __contains__(self, slug: str) -> bool:
        return slug in self._watchers

    def __len__(self) -> int:
        return len(self._watchers)

    def get(self, slug: str) -> FeedWatcher | None:
        """The watcher of ``slug`` if it is watched (no store read, no use counted)."""
        return self._watchers.get(slug)

    async def current(self, slug: str) -> Feed | None:
        """``slug``'s feed at its current rev: from its watcher, else read from the store
        (once, however many ask at the same time) and watched from then on. None for an
        unknown feed."""
        self._forget_idle()
        watcher = self._watchers.get(slug)
        if watcher is not None:
            return watcher.feed
        lookup = self._lookups.get(slug)
        if lookup is None:
            lookup = asyncio.ensure_future(self._watch(slug))
            self._lookups[slug] = lookup
            lookup.add_done_callback(lambda _done: self._lookups.pop(slug, None))
        # Shielded: a request that goes away does not cancel the lookup for the others.
        return await asyncio.shield(lookup)

    async def _watch(self, slug: str) -> Feed | None:
        feed = await self.store.get_feed(slug)
        if feed is None or self.draining.is_set() or len(self._watchers) >= self.max_watched:
            return feed
        watcher = FeedWatcher(feed, self)
        self._watchers[slug] = watcher
        try:
            await self.hub.attach(slug, watcher)
            # Attached first, then re-read: a change committed in between is not missed.
            fresh = await self.store.get_feed(slug)
        except BaseException:
            self.hub.detach(slug, watcher)
            self.drop(watcher)
            raise
        if fresh is None:
            self.hub.detach(slug, watcher)
            self.drop(watcher)
            return None
        watcher.refresh(fresh)
        return watcher.feed

    def drop(self, watcher: FeedWatcher) -> None:
        """Stop answering from ``watcher`` (if it is still the one watching its feed)."""
        if self._watchers.get(watcher.slug) is watcher:
            del self._watchers[watcher.slug]

    def _forget_idle(self) -> None:
        """At most once per ``sweep_seconds``: detach watchers idle for ``idle_seconds``
        whose feed has no live readers here (their subscription would otherwise outlive
        every use)."""
        now = self.clock()
        if now - self._swept_at < self.sweep_seconds:
            return
        self._swept_at = now
        for slug, watcher in list(self._watchers.items()):
            if now - watcher.used > self.idle_seconds and self.hub.subscriber_count(slug) == 0:
                del self._watchers[slug]
                self.hub.detach(slug, watcher)


async def current_feed(state: AppState, slug: str) -> Feed | None:
    """``slug``'s feed at its current rev, from ``state``'s watched feeds (see
    :meth:`WatchedFeeds.current`)."""
    return await state.watched.current(slug)
