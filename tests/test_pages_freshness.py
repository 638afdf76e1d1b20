"""Reader pages stay fresh across processes: a page served by process B shows a write made
through process A within the store poll interval (+ scheduling slack) — through pub/sub with
Redis up, through the store poll with Redis down. The resync is set far away, so it cannot be
what refreshes the page."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.live_support import Cluster, Factory, start_cluster
from tests.ops_support import scrape
from tests.support.services import PostgresServer, RedisServer, wait_until_async

POLL = 1.0
MARGIN = 1.5  # scheduling slack on a loaded 2-core machine


async def fresh_within(cluster: Cluster, slug: str, body: str, seconds: float) -> None:
    """Post ``body`` through process 0; process 1's page shows it within ``seconds``."""
    page_url = cluster.url(1, f"/feeds/{slug}")
    etag = (await cluster.http.get(page_url)).headers["ETag"]
    await cluster.post(0, slug, body=body)

    async def shown() -> httpx.Response | None:
        page = await cluster.http.get(page_url)
        assert page.status_code == 200, page.status_code
        return page if body in page.text else None

    try:
        page = await wait_until_async(shown, timeout=seconds, interval=0.05)
    except TimeoutError:
        raise AssertionError(f"process 1's page did not show {body!r} within {seconds}s") from None
    assert page.headers["ETag"] != etag


async def test_page_on_one_process_shows_a_write_on_the_other(
    livefeed_factory: Factory,
    postgres_server: PostgresServer,
    fresh_redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    cluster = start_cluster(
        "redis",
        livefeed_factory,
        tmp_path=tmp_path,
        postgres=postgres_server,
        redis_url=fresh_redis_server.url,
        env={"LIVEFEED_STORE_POLL_SECONDS": str(POLL), "LIVEFEED_RESYNC_SECONDS": "60"},
    )
    slug = "fresh"
    await cluster.create_feed(slug)
    await cluster.post(0, slug, body="first")
    for i in range(3):
        await fresh_within(cluster, slug, f"with Redis up {i}", MARGIN)

    fresh_redis_server.kill()

    async def both_down() -> bool:
        for server in cluster.servers:
            if (await scrape(cluster.http, server.base_url))["livefeed_broker_connected"] != 0:
                return False
        return True

    await wait_until_async(both_down, timeout=15, message="both processes see Redis gone")
    for i in range(3):
        await fresh_within(cluster, slug, f"with Redis down {i}", POLL + MARGIN)
    await cluster.aclose()
