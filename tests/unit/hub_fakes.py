"""Fakes for the hub's collaborators (no services): an in-memory change log and a broker
the test drives by hand.

:class:`FakeStore` keeps the store's rev/log contract — gap-free revs per feed, each
change logged with its event bytes — and counts reads, so a test can assert how many
times the database would have been asked. :class:`FakeBroker` records publishes and lets
the test deliver messages (in any order, twice, or not at all) and go down and up.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from app.brokers.base import BrokerUnavailable, MessageHandler, StateHandler
from app.events import Change, feed_event
from app.schemas import Feed
from app.store import NotFound

_T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_feed(slug: str, rev: int = 0, title: str = "Title") -> Feed:
    return Feed(
        slug=slug,
        title=title,
        description="",
        locale="en",
        timezone="UTC",
        status="live",
        rev=rev,
        created_at=_T0,
        updated_at=_T0,
        started_at=_T0,
        ended_at=None,
        allowed_origins=[],
    )


def entry_payload(rev: int) -> bytes:
    """An event in the wire layout (only its type and rev matter to the hub)."""
    return b'{"type":"entry","op":"created","rev":%d,"entry":{"n":%d}}' % (rev, rev)


class FakeStore:
    """Feeds and their change logs in memory, with the read methods the hub, the catch-up
    and the watched feeds use. ``gate``, when set, makes ``changes_since`` wait for it."""

    def __init__(self) -> None:
        self.feeds: dict[str, Feed] = {}
        self.log: dict[str, list[tuple[int, bytes]]] = {}
        self.changes_since_calls: list[tuple[str, int, int]] = []
        self.get_feed_calls = 0
        self.current_rev_calls = 0
        self.gate: asyncio.Event | None = None
        #: Raised by the next ``changes_since`` calls while set.
        self.fail_reads: Exception | None = None

    def add_feed(self, slug: str) -> None:
        self.feeds[slug] = make_feed(slug)
        self.log[slug] = []

    def commit(self, slug: str, payload: bytes | None = None) -> Change:
        """Log the feed's next rev (an entry event unless ``payload`` is given)."""
        rev = self.feeds[slug].rev + 1
        data = payload if payload is not None else entry_payload(rev)
        self.feeds[slug] = self.feeds[slug].model_copy(update={"rev": rev})
        self.log[slug].append((rev, data))
        return Change(slug, rev, data)

    def commit_feed_change(self, slug: str, title: str) -> Change:
        """Log a ``feed`` event renaming the feed."""
        rev = self.feeds[slug].rev + 1
        feed = self.feeds[slug].model_copy(update={"title": title, "rev": rev})
        self.feeds[slug] = feed
        payload = feed_event(feed)
        self.log[slug].append((rev, payload))
        return Change(slug, rev, payload)

    async def get_feed(self, slug: str) -> Feed | None:
        self.get_feed_calls += 1
        await asyncio.sleep(0)
        return self.feeds.get(slug)

    async def current_rev(self, slug: str) -> int:
        self.current_rev_calls += 1
        await asyncio.sleep(0)
        if slug not in self.feeds:
            raise NotFound(slug)
        return self.feeds[slug].rev

    async def changes_since(
        self, slug: str, since: int, *, limit: int
    ) -> tuple[int, list[tuple[int, bytes]]]:
        self.changes_since_calls.append((slug, since, limit))
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(0)
        if self.fail_reads is not None:
            raise self.fail_reads
        if slug not in self.feeds:
            raise NotFound(slug)
        rows = [(rev, data) for rev, data in self.log[slug] if rev > since][:limit]
        return self.feeds[slug].rev, rows


class FakeBroker:
    """A broker between "processes" that the test drives: ``receive`` hands the hub a
    message, ``set_connected`` reports a loss or recovery."""

    in_process = False

    def __init__(self) -> None:
        self.connected = False
        self.published: list[Change] = []
        self.subscribed: set[str] = set()
        self._on_message: MessageHandler | None = None
        self._on_state: StateHandler | None = None

    async def start(self, on_message: MessageHandler, on_state: StateHandler) -> None:
        self._on_message = on_message
        self._on_state = on_state
        self.set_connected(True)

    async def stop(self) -> None:
        return None

    async def publish(self, change: Change) -> None:
        if not self.connected:
            raise BrokerUnavailable("down")
        self.published.append(change)

    async def subscribe(self, feed: str) -> None:
        self.subscribed.add(feed)

    async def unsubscribe(self, feed: str) -> None:
        self.subscribed.discard(feed)

    async def ping(self) -> None:
        if not self.connected:
            raise BrokerUnavailable("down")

    def receive(self, change: Change) -> None:
        assert self._on_message is not None
        self._on_message(change)

    def set_connected(self, connected: bool) -> None:
        self.connected = connected
        assert self._on_state is not None
        self._on_state(connected)
