"""Redis pub/sub broker: wakes every process that has readers of a feed.

One channel per feed (``livefeed:feed:SLUG``); a process subscribes only while it has
readers of that feed. Notices (:meth:`RedisBroker.publish_notice`: what is not a feed
change) share one channel, ``livefeed:notices``, that every process subscribes to. The
message layout (rev, publish time, event bytes) belongs to :mod:`app.events`
(``broker_message`` / ``parse_broker_message``). The reader loop reconnects with capped
exponential backoff and reports each loss and recovery through ``on_state`` so the hub can
catch up from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from app.brokers.base import BrokerUnavailable, MessageHandler, NoticeHandler, StateHandler
from app.events import Change, MalformedMessage, broker_message, parse_broker_message

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "livefeed:feed:"
NOTICE_CHANNEL = "livefeed:notices"
BACKOFF_START = 0.1
BACKOFF_MAX = 5.0


def channel_for(feed: str) -> str:
    return CHANNEL_PREFIX + feed


class RedisBroker:
    in_process = False

    def __init__(self, url: str) -> None:
        self.url = url
        self.connected = False
        #: Times the connection came back after a loss (a metric).
        self.reconnects = 0
        self._client = aioredis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=2, health_check_interval=10
        )
        self._feeds: set[str] = set()
        self._pubsub: aioredis.client.PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self._on_message: MessageHandler | None = None
        self._on_state: StateHandler | None = None
        self._on_notice: NoticeHandler | None = None
        self._resubscribe = asyncio.Event()

    async def start(self, on_message: MessageHandler, on_state: StateHandler) -> None:
        self._on_message = on_message
        self._on_state = on_state
        self._task = asyncio.create_task(self._run(), name="redis-broker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.aclose()

    async def publish(self, change: Change) -> None:
        message = broker_message(change)
        for attempt in (1, 2):
            try:
                await self._client.publish(channel_for(change.feed), message)
                return
            except RedisConnectionError as exc:
                # After a Redis restart every pooled connection is dead, and the client
                # does not retry: the first publish would fail and wait for the resync.
                # The failed connection was dropped, so one more try runs on a fresh one.
                if attempt == 2:
                    raise BrokerUnavailable(str(exc)) from exc
            except (RedisError, OSError) as exc:
                raise BrokerUnavailable(str(exc)) from exc

    def on_notice(self, handler: NoticeHandler) -> None:
        self._on_notice = handler

    async def publish_notice(self, payload: bytes) -> None:
        try:
            await self._client.publish(NOTICE_CHANNEL, payload)
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(str(exc)) from exc

    async def subscribe(self, feed: str) -> None:
        if feed in self._feeds:
            return
        self._feeds.add(feed)
        await self._apply(lambda pubsub: pubsub.subscribe(channel_for(feed)))

    async def unsubscribe(self, feed: str) -> None:
        if feed not in self._feeds:
            return
        self._feeds.discard(feed)
        await self._apply(lambda pubsub: pubsub.unsubscribe(channel_for(feed)))

    async def ping(self) -> None:
        try:
            await self._client.ping()
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(str(exc)) from exc

    async def _apply(self, action: object) -> None:
        # Subscription changes ride on the live pubsub connection; if it is down, the
        # reader loop subscribes to the whole current set when it reconnects.
        pubsub = self._pubsub
        if pubsub is None or not self.connected:
            return
        try:
            await action(pubsub)  # type: ignore[operator]
        except (RedisError, OSError):
            log.warning("redis subscription change failed; will resubscribe on reconnect")

    def _set_state(self, connected: bool) -> None:
        if connected == self.connected:
            return
        self.connected = connected
        if self._on_state is not None:
            self._on_state(connected)

    async def _run(self) -> None:
        delay = BACKOFF_START
        connected_before = False
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                # A sentinel channel keeps the connection subscribed even with no feeds.
                wanted = set(self._feeds)
                await pubsub.subscribe(
                    "livefeed:control", NOTICE_CHANNEL, *(channel_for(f) for f in wanted)
                )
                self._pubsub = pubsub
                # Feeds added while that subscribe was in flight were skipped by _apply
                # (no live pubsub yet): take them now, or they would wait for a reconnect.
                if missing := self._feeds - wanted:
                    await pubsub.subscribe(*(channel_for(f) for f in missing))
                if connected_before:
                    self.reconnects += 1
                connected_before = True
                self._set_state(True)
                delay = BACKOFF_START
                await self._read(pubsub)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                if self.connected:
                    log.warning("redis connection lost (%s); reconnecting", exc)
            finally:
                self._pubsub = None
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            self._set_state(False)
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, BACKOFF_MAX)

    async def _read(self, pubsub: aioredis.client.PubSub) -> None:
        assert self._on_message is not None
        while True:
            message = await pubsub.get_message(timeout=None)
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"].decode()
            if channel == NOTICE_CHANNEL:
                if self._on_notice is not None:
                    self._on_notice(message["data"])
                continue
            if not channel.startswith(CHANNEL_PREFIX):
                continue
            try:
                change = parse_broker_message(channel[len(CHANNEL_PREFIX) :], message["data"])
            except MalformedMessage as exc:
                log.warning("ignoring a malformed message on %s: %s", channel, exc)
                continue
            self._on_message(change)
