"""The hub against a real Redis: races a process-level test cannot time reliably."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from app.brokers.redis import RedisBroker, channel_for
from app.hub import Event, Hub
from app.schemas import EntryCreate, FeedCreate
from app.store import Store
from app.store.engine import make_engine
from app.store.migrate import upgrade
from tests.support.services import wait_until_async


class Sink:
    def __init__(self) -> None:
        self.revs: list[int] = []

    def deliver(self, event: Event) -> None:
        self.revs.append(event.rev)

    def close(self, code: int, reason: str) -> None:
        pass


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/hub.db")
    await upgrade(engine)
    store = Store(engine)
    await store.create_feed(FeedCreate(slug="f", title="f"))
    yield store
    await store.close()


async def test_reader_back_before_the_unsubscribe_keeps_the_subscription(
    store: Store, redis_url: str
) -> None:
    hub = Hub(store, RedisBroker(redis_url), resync_seconds=60)
    await hub.start()
    other = RedisBroker(redis_url)  # "another process"
    client = aioredis.Redis.from_url(redis_url)
    try:
        await wait_until_async(lambda: hub.broker.connected, 10)
        first, second = Sink(), Sink()
        await hub.attach("f", first)
        # The only reader leaves and another arrives before the unsubscribe has run.
        hub.detach("f", first)
        await hub.attach("f", second)

        async def subscribed() -> bool:
            channels = await client.pubsub_channels(channel_for("f"))
            return bool(channels)

        await wait_until_async(subscribed, 5)
        for _ in range(20):  # let any late unsubscribe land
            if not await subscribed():
                break
        assert await subscribed(), "the hub lost its subscription to a feed with a reader"

        entry, changes, _replayed = await store.create_entry("f", EntryCreate(body="hello"))
        assert [change.rev for change in changes] == [entry.rev]
        await other.publish(changes[0])
        await wait_until_async(lambda: second.revs == [entry.rev], 3)
    finally:
        await hub.stop()
        await other.stop()
        await client.aclose()
