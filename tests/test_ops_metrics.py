"""``GET /metrics``: every series named in app/metrics.py moves as real traffic flows
through a real ``livefeed serve`` process (with Redis as its broker)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.ops_support import post_entry, scrape
from tests.support.services import LivefeedServer, RedisServer, wait_until_async

ADMIN_TOKEN = "test-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def ws_open(transport: str) -> str:
    return f'livefeed_open_connections{{transport="{transport}"}}'


def labelled(name: str, transport: str) -> str:
    return f'{name}{{transport="{transport}"}}'


@pytest.fixture
def server(
    fresh_redis_server: RedisServer, livefeed_factory: Callable[..., LivefeedServer]
) -> LivefeedServer:
    return livefeed_factory(
        {
            "LIVEFEED_REDIS_URL": fresh_redis_server.url,
            "LIVEFEED_SEND_BUFFER_BYTES": str(16 * 1024),
            "LIVEFEED_STORE_POLL_SECONDS": "0.2",
        }
    )


@pytest_asyncio.fixture(loop_scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def new_feed(http: httpx.AsyncClient, server: LivefeedServer) -> str:
    slug = f"m-{secrets.token_hex(4)}"
    response = await http.post(
        server.url("/api/feeds"), json={"slug": slug, "title": "Metrics"}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    return slug


async def next_message(ws: ClientConnection) -> dict[str, object]:
    """The next change (or hello), past any live reader count (``readers``: no rev)."""
    while True:
        message = dict(json.loads(await asyncio.wait_for(ws.recv(), 10)))
        if message["type"] != "readers":
            return message


async def test_live_traffic_moves_the_metrics(
    server: LivefeedServer, http: httpx.AsyncClient
) -> None:
    slug = await new_feed(http, server)
    base = await scrape(http, server.base_url)
    assert base[ws_open("websocket")] == base[ws_open("sse")] == 0

    async with (
        connect(f"{server.ws_url}/ws/feeds/{slug}") as ws,
        http.stream("GET", server.url(f"/sse/feeds/{slug}")) as sse,
    ):
        hello = await next_message(ws)
        assert hello["type"] == "hello"
        lines = sse.aiter_lines()

        async def both_open() -> dict[str, float] | None:
            s = await scrape(http, server.base_url)
            return s if s[ws_open("websocket")] == s[ws_open("sse")] == 1 else None

        await wait_until_async(both_open, message="one reader per transport")

        await post_entry(http, server.base_url, slug, "first", ADMIN_TOKEN)
        assert (await next_message(ws))["type"] == "entry"
        async for line in lines:
            if line.startswith("data:") and '"type":"entry"' in line:
                break
        moved = await scrape(http, server.base_url)
        assert (
            moved["livefeed_events_fanned_out_total"]
            == base["livefeed_events_fanned_out_total"] + 1
        )
        assert moved["livefeed_deliveries_total"] == base["livefeed_deliveries_total"] + 2
        assert (
            moved["livefeed_publish_delivery_latency_seconds_count"]
            == base["livefeed_publish_delivery_latency_seconds_count"] + 1
        )
        assert moved['livefeed_publish_delivery_latency_seconds_bucket{le="+Inf"}'] >= 1
        rev = int(hello["rev"]) + 1  # type: ignore[call-overload]

    async def both_closed() -> dict[str, float] | None:
        s = await scrape(http, server.base_url)
        return s if s[ws_open("websocket")] == s[ws_open("sse")] == 0 else None

    await wait_until_async(both_closed, message="readers gone")

    # Resuming with since / Last-Event-ID is a catch-up served from the store.
    await post_entry(http, server.base_url, slug, "while away", ADMIN_TOKEN)
    async with connect(f"{server.ws_url}/ws/feeds/{slug}?since={rev}") as ws:
        assert (await next_message(ws))["type"] == "hello"
        caught_up = await next_message(ws)
        assert caught_up["type"] == "entry" and caught_up["rev"] == rev + 1
    async with http.stream(
        "GET", server.url(f"/sse/feeds/{slug}"), headers={"Last-Event-ID": str(rev)}
    ) as sse:
        async for line in sse.aiter_lines():
            if line == f"id: {rev + 1}":
                break
    after = await scrape(http, server.base_url)
    for transport in ("websocket", "sse"):
        name = labelled("livefeed_catchups_served_total", transport)
        assert after[name] == base[name] + 1, name


async def test_http_requests_are_counted_by_route_template(
    server: LivefeedServer, http: httpx.AsyncClient
) -> None:
    slug = await new_feed(http, server)
    for _ in range(3):
        assert (await http.get(server.url(f"/api/feeds/{slug}"))).status_code == 200
    assert (await http.get(server.url("/api/feeds/no-such-feed"))).status_code == 404
    assert (await http.get(server.url(f"/no/such/page/{secrets.token_hex(8)}"))).status_code == 404
    refused = await http.post(server.url(f"/api/feeds/{slug}/entries"), json={"body": "x"})
    assert refused.status_code == 401

    response = await http.get(server.url("/metrics"))
    text = response.text
    samples = await scrape(http, server.base_url)

    def requests(method: str, route: str, status: int) -> float:
        key = f'livefeed_http_requests_total{{method="{method}",route="{route}",status="{status}"}}'
        return samples.get(key, 0.0)

    assert requests("GET", "/api/feeds/{slug}", 200) == 3
    assert requests("GET", "/api/feeds/{slug}", 404) == 1
    assert requests("POST", "/api/feeds", 201) == 1
    assert requests("POST", "/api/feeds/{slug}/entries", 401) == 1
    assert requests("GET", "<unmatched>", 404) == 1
    assert requests("GET", "/metrics", 200) >= 1
    # Raw paths never become label values: the label set stays bounded.
    assert slug not in text and "no-such-feed" not in text and "/no/such" not in text


async def test_broker_reconnects_are_counted(
    server: LivefeedServer, fresh_redis_server: RedisServer, http: httpx.AsyncClient
) -> None:
    before = await scrape(http, server.base_url)
    assert before["livefeed_broker_connected"] == 1
    assert before["livefeed_broker_reconnects_total"] == 0
    await asyncio.to_thread(fresh_redis_server.restart)

    async def reconnected() -> dict[str, float] | None:
        s = await scrape(http, server.base_url)
        ok = s["livefeed_broker_reconnects_total"] >= 1 and s["livefeed_broker_connected"] == 1
        return s if ok else None

    await wait_until_async(reconnected, timeout=20, message="broker reconnect counted")


async def test_slow_reader_disconnects_are_counted(
    server: LivefeedServer, http: httpx.AsyncClient
) -> None:
    slug = await new_feed(http, server)
    # A reader that never reads, with a tiny receive buffer: the server's socket and then
    # its 16 KiB send buffer fill up, and it is cut off (4008).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((server.host, server.port))
    name = labelled("livefeed_slow_reader_disconnects_total", "websocket")
    async with connect(f"{server.ws_url}/ws/feeds/{slug}", sock=sock, max_queue=1) as ws:
        assert (await next_message(ws))["type"] == "hello"
        ws.transport.pause_reading()  # type: ignore[attr-defined]
        body = "slow " * 9_000
        for i in range(400):
            await post_entry(http, server.base_url, slug, f"{i} {body}", ADMIN_TOKEN)
            if i % 10 == 9 and (await scrape(http, server.base_url))[name] >= 1:
                break
        else:
            pytest.fail("the slow reader was never cut off")
        with contextlib.suppress(ConnectionClosed):
            ws.transport.resume_reading()  # type: ignore[attr-defined]
    samples = await scrape(http, server.base_url)
    assert samples[name] == 1
    assert samples[ws_open("websocket")] == 0
