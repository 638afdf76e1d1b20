"""Live reader counts: per feed, the readers connected to every process, pushed to them.

Contracts:

* A reader is a live WebSocket or SSE connection attached to the hub (:func:`app.hub.
  is_reader`); polling clients and the feed watchers are not counted.
* Every ``interval`` seconds each process reports its own count per feed, and then, for
  each feed it has readers of, reads the total; only when the total differs from what the
  feed's readers in this process were last told (:meth:`app.hub.Hub.announced_readers`)
  does it hand them a ``readers`` event (:func:`app.events.readers_event`, through
  :meth:`app.hub.Hub.announce_readers`): at most one per feed per interval, none when
  nothing changed. A change under 1 % of the count they were told
  (:data:`SIGNIFICANT_CHANGE`; so only with 100 readers or more) waits up to
  :data:`SMALL_CHANGE_INTERVALS` reports, so a big audience's churn costs one announcement
  per few intervals, not one per interval. A reader that connects gets the last total at
  once. When a feed's channel is recreated (every reader left, others came back) or its
  last reader left while a feed watcher kept it, nothing was told to the readers now there,
  so the next report tells them even if the total is the same; a count from before is never
  handed out.
* With Redis, counts meet in a hash per feed (``livefeed:readers:SLUG``: process id →
  ``"COUNT EXPIRES_MS"``). A process that dies without saying so stops refreshing its field;
  the field is ignored (and removed) once it expires, ``3 × interval`` after its last report,
  so the total decays within about four intervals. The whole key also expires. A process
  that stops cleanly removes its fields. With the in-process broker the total is this
  process's own count.
* Redis being down only pauses the counts (logged once); it never touches delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from app.hub import Hub

log = logging.getLogger(__name__)

#: Reports missed before a process's count is dropped from the total.
EXPIRY_INTERVALS = 3
#: A change of at least this share of the count readers were told is announced at the next
#: report (any change while they were told fewer than 100); a smaller one at the latest
#: :data:`SMALL_CHANGE_INTERVALS` reports after it began. Each announcement costs one write
#: per reader — about what an entry's fan-out costs — so a big audience's every join and
#: leave must not each cost one (``make bench``: ``bench/readers.py``).
SIGNIFICANT_CHANGE = 0.01
SMALL_CHANGE_INTERVALS = 5


def counts_key(feed: str) -> str:
    return f"livefeed:readers:{feed}"


class CountStore(Protocol):
    """Where processes' counts meet."""

    async def report(self, counts: dict[str, int], ttl_seconds: float) -> None:
        """This process's count per feed (0 for a feed it no longer has readers of)."""

    async def totals(self, feeds: list[str]) -> dict[str, int]:
        """Every live process's count summed, per feed."""

    async def forget(self, feeds: list[str]) -> None:
        """Remove this process's counts (clean shutdown)."""

    async def close(self) -> None: ...


class LocalCounts:
    """The in-process broker's case: this process is every process."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    async def report(self, counts: dict[str, int], ttl_seconds: float) -> None:
        self._counts = {feed: n for feed, n in counts.items() if n}

    async def totals(self, feeds: list[str]) -> dict[str, int]:
        return {feed: self._counts.get(feed, 0) for feed in feeds}

    async def forget(self, feeds: list[str]) -> None:
        self._counts.clear()

    async def close(self) -> None:
        return None


class ProcessFields:
    """Redis hashes holding one field per process, each value expiring on its own.

    Per key, each process writes its own field (``"VALUE EXPIRES_MS"``); readers get only
    the fields not yet expired and remove the expired ones, so a process that dies without
    a word drops out ``ttl`` after its last write. The whole key expires too. Shared by the
    reader counts here and the studio's team presence (:mod:`app.team`).
    """

    def __init__(self, url: str, process_id: str | None = None) -> None:
        self.process_id = process_id or uuid.uuid4().hex
        self._client = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)

    async def put(self, values: Mapping[str, str | None], ttl_seconds: float) -> None:
        """This process's value per key (None: remove its field)."""
        expires_ms = int((time.time() + ttl_seconds) * 1000)
        async with self._client.pipeline(transaction=False) as pipe:
            for key, value in values.items():
                if value is not None:
                    pipe.hset(key, self.process_id, f"{value} {expires_ms}")
                    pipe.pexpire(key, int(ttl_seconds * 1000))
                else:
                    pipe.hdel(key, self.process_id)
            await pipe.execute()

    async def live(self, keys: Sequence[str]) -> list[list[str]]:
        """Per key (same order), the unexpired values of every process."""
        async with self._client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hgetall(key)
            answers = await pipe.execute()
        now_ms = time.time() * 1000
        values: list[list[str]] = []
        expired: list[tuple[str, bytes]] = []
        for key, fields in zip(keys, answers, strict=True):
            found: list[str] = []
            for process, stored in fields.items():
                value, _, expires = stored.rpartition(b" ")
                if int(expires) < now_ms:
                    expired.append((key, process))  # a process that died without saying so
                else:
                    found.append(value.decode())
            values.append(found)
        if expired:
            async with self._client.pipeline(transaction=False) as pipe:
                for key, process in expired:
                    pipe.hdel(key, process)
                await pipe.execute()
        return values

    async def forget(self, keys: Sequence[str]) -> None:
        """Remove this process's fields (clean shutdown)."""
        async with self._client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hdel(key, self.process_id)
            await pipe.execute()

    async def close(self) -> None:
        await self._client.aclose()


class RedisCounts:
    """Counts of every process sharing a Redis, each field expiring on its own."""

    def __init__(self, url: str, process_id: str | None = None) -> None:
        self._fields = ProcessFields(url, process_id)
        self.process_id = self._fields.process_id

    async def report(self, counts: dict[str, int], ttl_seconds: float) -> None:
        await self._fields.put(
            {counts_key(feed): str(count) if count else None for feed, count in counts.items()},
            ttl_seconds,
        )

    async def totals(self, feeds: list[str]) -> dict[str, int]:
        found = await self._fields.live([counts_key(feed) for feed in feeds])
        return {
            feed: sum(int(count) for count in counts)
            for feed, counts in zip(feeds, found, strict=True)
        }

    async def forget(self, feeds: list[str]) -> None:
        await self._fields.forget([counts_key(feed) for feed in feeds])

    async def close(self) -> None:
        await self._fields.close()


def count_store(redis_url: str | None) -> CountStore:
    """Redis counts when the processes share a Redis, else this process's own."""
    return RedisCounts(redis_url) if redis_url else LocalCounts()


class ReaderPresence:
    """One per app: reports this process's readers and pushes changed totals to them."""

    def __init__(self, hub: Hub, store: CountStore, interval: float) -> None:
        self.hub = hub
        self.store = store
        self.interval = interval
        self._reported: set[str] = set()
        #: Reports a feed's small, not yet announced change has waited.
        self._waiting: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="reader-presence")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(RedisError, OSError):
            await self.store.forget(sorted(self._reported))
        await self.store.close()

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
                self._failing = False
            except (RedisError, OSError) as exc:
                if not self._failing:
                    log.warning("reader counts paused: %s", exc)
                self._failing = True
            await asyncio.sleep(self.interval)

    async def tick(self) -> None:
        """Report this process's counts, then announce every total that changed."""
        local = self.hub.reader_counts()
        gone = self._reported - set(local)
        await self.store.report(
            {**dict.fromkeys(gone, 0), **local}, self.interval * EXPIRY_INTERVALS
        )
        self._reported = set(local)
        for feed in gone:
            self._waiting.pop(feed, None)
        if not local:
            return
        totals = await self.store.totals(sorted(local))
        for feed, total in totals.items():
            # Compared with what this channel's readers were told (not with the last total
            # of the feed): a channel recreated since, every reader having left and others
            # come back, has told its readers nothing yet.
            told = self.hub.announced_readers(feed)
            if told == total:
                self._waiting.pop(feed, None)
                continue
            waited = self._waiting.get(feed, 0) + 1
            if (
                told is None
                or abs(total - told) >= max(1.0, told * SIGNIFICANT_CHANGE)
                or waited >= SMALL_CHANGE_INTERVALS
            ):
                self._waiting.pop(feed, None)
                self.hub.announce_readers(feed, total)
            else:
                self._waiting[feed] = waited
