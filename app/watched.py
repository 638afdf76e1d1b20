"""Watched feeds: a process's live copy of a feed's record and current rev, kept by the hub.

Pages and live connections need a feed's record (title, status, allowed origins) and its
current rev on every request. Instead of reading the database each time, the first lookup
reads it once and attaches a :class:`FeedWatcher` to the hub, which then delivers every
change of that feed in rev order — gap-filled from the store, through Redis from other
processes, by polling while Redis is down. Later lookups are a dictionary read.

A watched rev may trail the database by the broker's latency (at most
``LIVEFEED_STORE_POLL_SECONDS`` while Redis is down). Every consumer tolerates that: a page
rendered at rev R resumes its live stream from R, and a stream opened at R catches up.

A watcher nobody has looked up for ``IDLE_SECONDS`` is detached once the feed has no live
readers in this process, so a process stays subscribed (in Redis) only to feeds it serves.
"""

from __future__ import annotations

import time

from app.hub import Event
from app.schemas import Feed
from app.state import AppState

MAX_WATCHED = 1000  # feeds one process keeps watching; beyond this, lookups read the store
IDLE_SECONDS = 300.0  # unused this long (and no readers): stop watching
SWEEP_SECONDS = 60.0


class FeedWatcher:
    """Hub subscriber that keeps one feed's latest record and rev."""

    __slots__ = ("_feed", "rev", "slug", "used", "watched")
    is_reader = False  # follows the feed for this process; not a connection

    def __init__(self, feed: Feed, watched: dict[str, FeedWatcher]) -> None:
        self._feed = feed
        self.rev = feed.rev
        self.slug = feed.slug
        self.watched = watched
        self.used = time.monotonic()

    def deliver(self, event: Event) -> None:
        self.rev = max(self.rev, event.rev)
        if event.kind == "feed":
            self._feed = Feed.model_validate_json(_feed_json(event.payload))

    def close(self, code: int, reason: str) -> None:
        # The hub is draining: stop answering from this copy.
        if self.watched.get(self.slug) is self:
            del self.watched[self.slug]

    def refresh(self, feed: Feed) -> None:
        if feed.rev >= self._feed.rev:
            self._feed = feed
        self.rev = max(self.rev, feed.rev)

    @property
    def feed(self) -> Feed:
        """The feed record as of the latest rev seen (entry changes only move ``rev``).
        Reading it counts as a use (see ``IDLE_SECONDS``)."""
        self.used = time.monotonic()
        if self._feed.rev != self.rev:
            self._feed = self._feed.model_copy(update={"rev": self.rev})
        return self._feed


def _feed_json(payload: bytes) -> bytes:
    """The ``feed`` object inside a ``{"type":"feed","rev":N,"feed":{…}}`` event."""
    start = payload.index(b'"feed":{') + len(b'"feed":')
    return payload[start:-1]


async def current_feed(state: AppState, slug: str) -> Feed | None:
    """``slug``'s feed at its current rev: from its watcher, else read from the store (and
    watched from then on). None for an unknown feed."""
    watched = state.watched_feeds
    _forget_idle(state)
    watcher = watched.get(slug)
    if watcher is not None:
        return watcher.feed
    feed = await state.store.get_feed(slug)
    if feed is None or state.draining.is_set() or len(watched) >= MAX_WATCHED:
        return feed
    watcher = watched.get(slug)  # another request may have won the race meanwhile
    if watcher is not None:
        return watcher.feed
    watcher = FeedWatcher(feed, watched)
    watched[slug] = watcher
    await state.hub.attach(slug, watcher)
    # Attached first, then re-read: a change committed in between is not missed.
    fresh = await state.store.get_feed(slug)
    if fresh is None:
        state.hub.detach(slug, watcher)
        watched.pop(slug, None)
        return None
    watcher.refresh(fresh)
    return watcher.feed


def _forget_idle(state: AppState) -> None:
    """At most once a minute: detach watchers idle for IDLE_SECONDS whose feed has no live
    readers here (their subscription would otherwise outlive every use)."""
    now = time.monotonic()
    if now - state.watched_swept_at < SWEEP_SECONDS:
        return
    state.watched_swept_at = now
    for slug, watcher in list(state.watched_feeds.items()):
        if now - watcher.used > IDLE_SECONDS and state.hub.subscriber_count(slug) == 0:
            del state.watched_feeds[slug]
            state.hub.detach(slug, watcher)
