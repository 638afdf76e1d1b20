"""Live delivery through failures: Redis killed mid-stream, a server SIGKILLed, SIGTERM
drain, and the limits a reader can hit (unknown feed, flood, oversized frame, per-IP cap).

Each delivery test asserts the per-connection guarantee (README, "Live transports") against the
API's state (see ``tests/live_support.py``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.live_support import (
    Cluster,
    Factory,
    Reader,
    SseReader,
    WsReader,
    assert_converged,
    start_cluster,
    writer,
)
from tests.support.services import (
    PostgresServer,
    RedisServer,
    find_livefeed_executable,
    wait_until_async,
)
from tests.support.watch import ABRUPT

POLL = 0.5  # LIVEFEED_STORE_POLL_SECONDS in these tests (tests.live_support.BASE_ENV)


async def close_code_of(url: str, *, send: list[str | bytes] | None = None) -> int | None:
    """Connect, optionally send frames, and return the close code the server ends with."""
    async with connect(url, proxy=None, ping_interval=None, open_timeout=5) as ws:
        try:
            for frame in send or []:
                await ws.send(frame)
            async with asyncio.timeout(10):
                async for _message in ws:
                    pass
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None
        return ws.close_code


# ---------------------------------------------------------------------------------------
# Scenario 3: Redis killed and restarted mid-stream
# ---------------------------------------------------------------------------------------


async def test_redis_killed_and_restarted_mid_stream(
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
    )
    slug = "redis-outage"
    await cluster.create_feed(slug)
    readers: list[Reader] = []
    for i in range(2):
        readers += [WsReader(f"ws{i}.{k}", slug, cluster.ws_urls(i)).start() for k in range(2)]
        readers.append(SseReader(f"sse{i}", slug, cluster.ws_urls(i)).start())
    await asyncio.gather(*(wait_until_async(r.connected.is_set, 10) for r in readers))
    await asyncio.gather(*(writer(cluster, w, slug, 15, seed=w) for w in range(2)))
    await assert_converged(cluster, slug, readers)

    fresh_redis_server.kill()
    # Posting still works; readers on the *other* process get each post by the store poll.
    delays: list[float] = []
    for i in range(6):
        started = time.monotonic()
        entry = await cluster.post(i % 2, slug, body=f"during the outage {i}")
        assert time.monotonic() - started < 2.0, "a post waited on the dead broker"
        await asyncio.gather(*(r.wait_rev(entry["rev"], timeout=5 * POLL + 3) for r in readers))
        delays.append(time.monotonic() - started)
    await asyncio.gather(*(writer(cluster, w, slug, 10, seed=20 + w) for w in range(2)))
    await assert_converged(cluster, slug, readers, timeout=10)
    # Bounded by the poll interval (plus scheduling slack on a loaded CI machine).
    assert max(delays) < POLL + 2.0, delays

    fresh_redis_server.start()
    ready = [f"{s.base_url}/readyz" for s in cluster.servers]

    async def all_ready() -> bool:
        codes = [(await cluster.http.get(u)).status_code for u in ready]
        return codes == [200, 200]

    await wait_until_async(all_ready, timeout=15, message="both processes see Redis again")
    await asyncio.gather(*(writer(cluster, w, slug, 15, seed=40 + w) for w in range(2)))
    await assert_converged(cluster, slug, readers)
    for reader in readers:
        assert len(reader.connections) == 1, f"{reader.name} had to reconnect"
        await reader.stop()
    await cluster.aclose()


# ---------------------------------------------------------------------------------------
# Scenario 4: a server SIGKILLed; its readers resume elsewhere (or after a restart)
# ---------------------------------------------------------------------------------------


@pytest.mark.close_codes(ABRUPT)  # the SIGKILLed server's readers lose it without a close
@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_sigkilled_server_readers_resume_with_since(
    kind: str, livefeed_factory: Factory, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    extra: dict[str, Any] = {}
    if kind == "redis":
        extra = {
            "postgres": request.getfixturevalue("postgres_server"),
            "redis_url": request.getfixturevalue("redis_url"),
        }
    cluster = start_cluster(kind, livefeed_factory, tmp_path=tmp_path, **extra)
    slug = "sigkill"
    await cluster.create_feed(slug)
    n = len(cluster.servers)
    readers: list[Reader] = [
        WsReader(f"ws{i}", slug, cluster.ws_urls(i % n)).start() for i in range(4)
    ]
    readers.append(SseReader("sse0", slug, cluster.ws_urls(0)).start())
    await asyncio.gather(*(wait_until_async(r.connected.is_set, 10) for r in readers))
    await asyncio.gather(*(writer(cluster, w % n, slug, 20, seed=w) for w in range(2)))
    await assert_converged(cluster, slug, readers)

    victim = cluster.servers[0]
    victim.kill()
    if kind == "memory":
        victim.start()  # same port, same SQLite file: readers come back to it
    survivor = n - 1
    await asyncio.gather(*(writer(cluster, survivor, slug, 20, seed=10 + w) for w in range(2)))
    await assert_converged(cluster, slug, readers, via=survivor)
    victim_urls = {victim.ws_url, victim.base_url}
    for reader in readers:
        if reader.urls[0] in victim_urls:
            assert len(reader.connections) >= 2, f"{reader.name} never reconnected"
            # It resumed exactly where it was: the first rev after its since.
            resumed = reader.connections[1]
            assert resumed.first_rev == resumed.since + 1, resumed
        await reader.stop()
    await cluster.aclose()


# ---------------------------------------------------------------------------------------
# Scenario 7: SIGTERM drain
# ---------------------------------------------------------------------------------------


async def test_sigterm_closes_live_connections_with_1012_and_readyz_fails(
    livefeed_factory: Factory, tmp_path: Path
) -> None:
    cluster = start_cluster(
        "memory", livefeed_factory, tmp_path=tmp_path, env={"LIVEFEED_DRAIN_SECONDS": "3"}
    )
    server = cluster.servers[0]
    slug = "drain"
    await cluster.create_feed(slug)
    await cluster.post(0, slug, body="before")
    url = f"{server.ws_url}/ws/feeds/{slug}?since=0"
    readyz = f"{server.base_url}/readyz"
    assert (await cluster.http.get(readyz)).status_code == 200

    clients = [await connect(url, proxy=None, ping_interval=None) for _ in range(3)]
    for ws in clients:
        assert '"hello"' in str(await ws.recv())
        while '"entry"' not in str(await ws.recv()):  # past live reader counts
            pass
    assert server.pid is not None
    os.kill(server.pid, signal.SIGTERM)
    for ws in clients:
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(5):
                while True:  # only reader counts may come before the close
                    assert '"readers"' in str(await ws.recv())
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
    # Still answering during the drain window: not ready, and new live connections are
    # sent elsewhere (1012 / SSE 503).
    response = await cluster.http.get(readyz)
    assert response.status_code == 503
    assert response.json()["checks"]["process"] == "draining"
    assert await close_code_of(url) == 1012
    sse = await cluster.http.get(f"{server.base_url}/sse/feeds/{slug}")
    assert sse.status_code == 503
    # …then it exits on its own, cleanly.
    proc = server._proc
    assert proc is not None
    await wait_until_async(lambda: proc.poll() is not None, timeout=15)
    # uvicorn re-raises the signal once it has shut down gracefully.
    assert proc.returncode in (0, -signal.SIGTERM), server.log_tail()
    assert "Traceback" not in server.log_text(), server.log_tail()
    await cluster.aclose()


# ---------------------------------------------------------------------------------------
# Scenario 8: limits and refusals
# ---------------------------------------------------------------------------------------


async def test_refusals_unknown_feed_flood_oversized_frame_and_ip_cap(
    livefeed_factory: Factory, tmp_path: Path
) -> None:
    cluster: Cluster = start_cluster(
        "memory",
        livefeed_factory,
        tmp_path=tmp_path,
        env={
            "LIVEFEED_MAX_CONNECTIONS_PER_IP": "3",
            "LIVEFEED_CLIENT_MAX_MESSAGES_PER_MINUTE": "5",
            "LIVEFEED_CLIENT_MAX_MESSAGE_BYTES": "1024",
        },
    )
    server = cluster.servers[0]
    slug = "limits"
    await cluster.create_feed(slug)
    base = f"{server.ws_url}/ws/feeds"

    assert await close_code_of(f"{base}/no-such-feed") == 4404
    assert (await cluster.http.get(f"{server.base_url}/sse/feeds/no-such-feed")).status_code == 404
    # A flood of client frames: policy violation.
    assert await close_code_of(f"{base}/{slug}", send=["hi"] * 20) == 1008
    # One frame over LIVEFEED_CLIENT_MAX_MESSAGE_BYTES: closed as too big.
    assert await close_code_of(f"{base}/{slug}", send=["x" * 5000]) == 1009

    # Per-IP cap: three are admitted, the fourth is refused before the upgrade (429 with
    # Retry-After, never accepted and held); closing one frees a place.
    open_ws = [await connect(f"{base}/{slug}", proxy=None, ping_interval=None) for _ in range(3)]
    for ws in open_ws:
        assert '"hello"' in str(await ws.recv())
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"{base}/{slug}", proxy=None, ping_interval=None, open_timeout=5)
    assert refused.value.response.status_code == 429
    assert refused.value.response.headers["Retry-After"].isdigit()
    sse = await cluster.http.get(f"{server.base_url}/sse/feeds/{slug}")
    assert sse.status_code == 429 and sse.headers["retry-after"].isdigit()
    await open_ws.pop().close()

    async def admitted() -> bool:
        try:
            async with connect(f"{base}/{slug}", proxy=None, ping_interval=None) as ws:
                return '"hello"' in str(await ws.recv())
        except (ConnectionClosed, InvalidStatus):
            return False

    assert await wait_until_async(admitted, timeout=5)
    for ws in open_ws:
        await ws.close()
    # Every refusal and close was counted out again: a full set fits.
    again = [await connect(f"{base}/{slug}", proxy=None, ping_interval=None) for _ in range(3)]
    for ws in again:
        assert '"hello"' in str(await ws.recv())
        await ws.close()
    await cluster.aclose()


def test_several_workers_without_redis_is_a_clear_error(tmp_path: Path) -> None:
    exe = find_livefeed_executable()
    assert exe
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEFEED_")}
    env["LIVEFEED_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/x.db"
    done = subprocess.run(
        [exe, "serve", "--port", "0", "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
    assert "LIVEFEED_REDIS_URL" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
