"""deploy/nginx.conf, tested for real: Debian's nginx in front of two ``livefeed serve``
processes sharing Redis and PostgreSQL, exactly as docker-compose.yml wires them.

Readers (WebSocket and SSE) connect through the proxy, entries are posted through the
proxy, and every reader must get every entry — also after one app process is stopped
with SIGTERM, when its readers are told to reconnect (1012) and resume with ``since``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.ops_support import NginxProxy, SseReader, WsReader, migrate, post_entry, scrape
from tests.support.services import LivefeedServer, free_port, wait_until_async
from tests.support.watch import ABRUPT
from tests.ws_support import RawClient

ADMIN_TOKEN = "test-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
READERS_PER_TRANSPORT = 4


@pytest.fixture
def proxy_port() -> int:
    return free_port()


@pytest.fixture
def two_apps(
    redis_url: str,
    fresh_postgres_url: str,
    livefeed_factory: Callable[..., LivefeedServer],
    proxy_port: int,
) -> list[LivefeedServer]:
    migrate(fresh_postgres_url)  # the compose file's one-shot `migrate` service
    env = {
        "LIVEFEED_DATABASE_URL": fresh_postgres_url,
        "LIVEFEED_REDIS_URL": redis_url,
        "LIVEFEED_PUBLIC_URL": f"http://127.0.0.1:{proxy_port}",
        "LIVEFEED_LOG_FORMAT": "json",
        "LIVEFEED_SHUTDOWN_TIMEOUT_SECONDS": "5",
    }
    return [livefeed_factory(env), livefeed_factory(env)]


@pytest.fixture
def proxy(two_apps: list[LivefeedServer], proxy_port: int) -> Iterator[NginxProxy]:
    upstreams = [f"127.0.0.1:{app.port}" for app in two_apps]
    with NginxProxy(upstreams, port=proxy_port) as nginx:
        yield nginx


def connections(samples: dict[str, float], transport: str) -> float:
    return samples[f'livefeed_open_connections{{transport="{transport}"}}']


# app1's WebSocket readers are told 1012 by its drain; its SSE streams just end.
@pytest.mark.close_codes(1012, ABRUPT)
async def test_readers_through_proxy_get_every_entry_when_one_app_stops(
    proxy: NginxProxy, two_apps: list[LivefeedServer]
) -> None:
    app1, app2 = two_apps
    slug = f"ops-{secrets.token_hex(4)}"
    async with httpx.AsyncClient(timeout=10) as http:
        # The proxy answers, and hides /metrics (Prometheus scrapes each process directly).
        assert (await http.get(proxy.base_url + "/healthz")).status_code == 200
        assert (await http.get(proxy.base_url + "/metrics")).status_code == 404
        ready = await http.get(proxy.base_url + "/readyz", headers={"X-Request-ID": "probe-1"})
        assert ready.status_code == 200, ready.text
        assert ready.headers["x-request-id"] == "probe-1"

        created = await http.post(
            proxy.base_url + "/api/feeds", json={"slug": slug, "title": "Ops"}, headers=ADMIN
        )
        assert created.status_code == 201, created.text

        # Readers one after the other (ws sse sse ws ws sse …): nginx's round robin puts
        # half of each kind on each app.
        readers: list[WsReader | SseReader] = []
        tasks: list[asyncio.Task[None]] = []
        for i in range(READERS_PER_TRANSPORT):
            pair: list[tuple[WsReader | SseReader, str]] = [
                (WsReader(f"ws{i}"), f"{proxy.ws_url}/ws/feeds/{slug}"),
                (SseReader(f"sse{i}"), f"{proxy.base_url}/sse/feeds/{slug}"),
            ]
            for reader, url in pair if i % 2 == 0 else reversed(pair):
                readers.append(reader)
                tasks.append(asyncio.create_task(reader.run(url)))
                await asyncio.wait_for(reader.connected.wait(), 10)
        try:
            before = [await scrape(http, app.base_url) for app in two_apps]
            for samples in before:
                assert connections(samples, "websocket") >= 1, "a WS reader on each app"
                assert connections(samples, "sse") >= 1, "an SSE reader on each app"
            assert sum(connections(s, "websocket") for s in before) == READERS_PER_TRANSPORT
            assert sum(connections(s, "sse") for s in before) == READERS_PER_TRANSPORT

            posted: list[int] = []

            async def post(n: int, phase: str) -> None:
                for k in range(n):
                    entry = await post_entry(
                        http, proxy.base_url, slug, f"{phase} {k}", ADMIN_TOKEN
                    )
                    posted.append(entry["id"])
                    await asyncio.sleep(0.05)

            async def everyone_has_everything() -> bool:
                return all(sorted(r.created) == sorted(posted) for r in readers)

            await post(5, "before")
            await wait_until_async(everyone_has_everything, timeout=15, message="phase 1")

            # SIGTERM app1 while entries keep coming in through the proxy.
            started = time.monotonic()
            stopping = asyncio.create_task(asyncio.to_thread(app1.terminate, 20))
            await post(10, "during")
            await stopping
            assert time.monotonic() - started < 15, "drain bounded by the shutdown timeout"
            await post(5, "after")

            await wait_until_async(everyone_has_everything, timeout=30, message="all entries")

            # Everyone is now on app2, and its metrics saw the traffic.
            async def all_on_app2() -> dict[str, float] | None:
                samples = await scrape(http, app2.base_url)
                if connections(samples, "websocket") == connections(samples, "sse") == 4:
                    return samples
                return None

            after = await wait_until_async(all_on_app2, timeout=10, message="readers on app2")
            assert after["livefeed_broker_connected"] == 1
            assert after["livefeed_deliveries_total"] >= 5 * READERS_PER_TRANSPORT
            assert after["livefeed_publish_delivery_latency_seconds_count"] >= 1
            resumed = sum(
                after[f'livefeed_catchups_served_total{{transport="{t}"}}']
                for t in ("websocket", "sse")
            )
            assert resumed >= sum(r.connects - 1 for r in readers) >= 1
            posts = (
                'livefeed_http_requests_total{method="POST",'
                'route="/api/feeds/{slug}/entries",status="201"}'
            )
            assert after[posts] >= 1
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        assert len(posted) == len(set(posted)) == 20
        for reader in readers:
            assert not reader.problems, (reader.name, reader.problems)
            assert len(reader.created) == len(set(reader.created)), f"{reader.name}: duplicate"
        # app1's readers were told to go (WS: 1012) and came back through the proxy.
        moved = [r for r in readers if r.connects > 1]
        assert sum(isinstance(r, WsReader) for r in moved) >= 1
        assert sum(isinstance(r, SseReader) for r in moved) >= 1
        assert any(1012 in r.close_codes for r in moved if isinstance(r, WsReader))

    assert "draining" in app1.log_text()


@pytest.mark.parametrize("engine", ["native", "asgi"])
async def test_forged_forwarded_for_through_the_proxy_does_not_change_the_client(
    livefeed_factory: Callable[..., LivefeedServer], engine: str
) -> None:
    """A client behind deploy/nginx.conf sends its own ``X-Forwarded-For``: nginx appends the
    real address, and the app (trusting only nginx) takes that one — for the per-address
    live cap (WebSocket and SSE) and for the access log alike. Clients connect from other
    loopback addresses (127.0.0.2, 127.0.0.3) so that they differ from the proxy."""
    proxy_port = free_port()
    app = livefeed_factory(
        {
            "LIVEFEED_PUBLIC_URL": f"http://127.0.0.1:{proxy_port}",
            "LIVEFEED_LOG_FORMAT": "json",
            "LIVEFEED_WS_ENGINE": engine,
            "LIVEFEED_MAX_CONNECTIONS_PER_IP": "2",
        }
    )
    upstream = f"127.0.0.1:{app.port}"
    with NginxProxy([upstream, upstream], port=proxy_port) as nginx:

        def forged(n: int) -> list[tuple[str, str]]:
            return [("X-Forwarded-For", f"6.6.6.{n}")]

        readers = [RawClient("127.0.0.1", nginx.port, source="127.0.0.2") for _ in range(3)]
        try:
            for n, reader in enumerate(readers[:2]):
                assert reader.handshake(extra=forged(n)).status == 101
                assert b'"hello"' in reader.read_frame().payload
            # Each forged a different address; the app still sees one client: 127.0.0.2.
            refused = readers[2].handshake(extra=forged(2))
            assert refused.status == 429, refused
            async with httpx.AsyncClient(
                transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2")
            ) as from_two:
                sse = await from_two.get(
                    nginx.base_url + "/sse/feeds/demo", headers={"X-Forwarded-For": "6.6.6.9"}
                )
                assert sse.status_code == 429
                listed = await from_two.get(
                    nginx.base_url + "/api/feeds", headers={"X-Forwarded-For": "6.6.6.6"}
                )
                assert listed.status_code == 200
            # Another real address is its own client.
            with RawClient("127.0.0.1", nginx.port, source="127.0.0.3") as other:
                assert other.handshake(extra=forged(0)).status == 101
        finally:
            for reader in readers:
                reader.close()

    access = [
        json.loads(line)
        for line in app.log_text().splitlines()
        if line.startswith("{") and '"/api/feeds"' in line
    ]
    assert access, app.log_text()[-2000:]
    assert {entry["client"] for entry in access} == {"127.0.0.2"}
