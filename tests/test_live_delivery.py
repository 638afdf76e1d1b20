"""Live delivery against real processes: the per-connection guarantee (README, "Live transports").

Every test runs on both deployments (parametrized, never duplicated):

* ``memory`` — one ``livefeed serve`` on SQLite with the in-process broker (the default);
* ``redis`` — two ``livefeed serve`` processes sharing PostgreSQL and Redis, with readers
  and writers on both;
* ``memory-asgi`` — as ``memory``, with WebSockets served through ASGI
  (``LIVEFEED_WS_ENGINE=asgi``) instead of the native fast path, so both stay proven.

Each asserts, for every reader: hello first, strictly increasing revs on each connection,
no rev missing or repeated across its reconnects, and a timeline equal to the API's
``GET …/entries`` at the same rev (see ``tests/live_support.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.live_support import (
    Cluster,
    Factory,
    Reader,
    SseReader,
    WriteStats,
    WsReader,
    assert_converged,
    start_cluster,
    writer,
)
from tests.support.services import wait_until_async

MakeCluster = Callable[..., Cluster]


@pytest.fixture(params=["memory", "redis", "memory-asgi"])
async def make_cluster(
    request: pytest.FixtureRequest, livefeed_factory: Factory, tmp_path: Path
) -> AsyncIterator[MakeCluster]:
    clusters: list[Cluster] = []

    def make(env: dict[str, str] | None = None) -> Cluster:
        kind = request.param
        if kind == "memory-asgi":
            kind, env = "memory", {**(env or {}), "LIVEFEED_WS_ENGINE": "asgi"}
        extra: dict[str, Any] = {}
        if kind == "redis":
            extra["postgres"] = request.getfixturevalue("postgres_server")
            extra["redis_url"] = request.getfixturevalue("redis_url")
        cluster = start_cluster(kind, livefeed_factory, tmp_path=tmp_path, env=env, **extra)
        clusters.append(cluster)
        return cluster

    yield make
    for cluster in clusters:
        await cluster.aclose()


async def stop_all(readers: list[Reader]) -> None:
    for reader in readers:
        await reader.stop()


async def test_readers_on_every_process_converge_under_concurrent_writes(
    make_cluster: MakeCluster,
) -> None:
    """Scenario 1 (and 9 on ``memory``): WebSocket and SSE readers on every process,
    writers on every process at once, edits/deletes/pins/feed edits interleaved."""
    cluster = make_cluster()
    slug = "converge"
    await cluster.create_feed(slug)
    n = len(cluster.servers)
    readers: list[Reader] = []
    for i in range(n):
        urls = cluster.ws_urls(i)
        readers += [WsReader(f"ws{i}.{k}", slug, urls).start() for k in range(3)]
        readers.append(SseReader(f"sse{i}", slug, urls).start())
    await asyncio.gather(*(wait_until_async(r.connected.is_set, 10) for r in readers))

    stats = WriteStats()
    await asyncio.gather(
        *(writer(cluster, w % n, slug, 60, seed=w, stats=stats) for w in range(2 * n))
    )
    # A reader arriving late catches the whole history up from since=0.
    late = WsReader("late", slug, cluster.ws_urls(n - 1)).start()
    readers.append(late)
    state = await assert_converged(cluster, slug, readers)

    assert state.rev >= 120 * n // 2
    assert stats.deleted and stats.pinned and stats.edited and stats.feed_changes
    # Nothing was repaired by reconnecting: each reader stayed on its first connection.
    for reader in readers:
        assert len(reader.connections) == 1, reader.name
    await stop_all(readers)


async def test_readers_dropped_abruptly_resume_with_since(make_cluster: MakeCluster) -> None:
    """Scenario 2: readers drop their TCP connection (no close frame) every few events and
    resume with ``since``, on the same process or the other, while writes continue."""
    cluster = make_cluster()
    slug = "dropped"
    await cluster.create_feed(slug)
    n = len(cluster.servers)
    readers: list[Reader] = [
        WsReader(f"drop{i}", slug, cluster.ws_urls(i), abort_every=3 + i).start() for i in range(4)
    ]
    steady = WsReader("steady", slug, cluster.ws_urls(0)).start()
    await asyncio.gather(*(wait_until_async(r.connected.is_set, 10) for r in [*readers, steady]))
    await asyncio.gather(*(writer(cluster, w % n, slug, 50, seed=10 + w) for w in range(2)))
    await assert_converged(cluster, slug, [*readers, steady])
    for reader in readers:
        assert len(reader.connections) >= 5, (reader.name, len(reader.connections))
        # Each resumed connection started right after the rev the reader had.
        for log in reader.connections:
            if log.first_rev is not None:
                assert log.first_rev == log.since + 1, log
    await stop_all([*readers, steady])


async def test_sse_resume_with_last_event_id_since_and_reset(make_cluster: MakeCluster) -> None:
    """Scenario 6: SSE ``id:`` is the rev; ``Last-Event-ID`` and ``?since`` resume exactly;
    ``reset`` when ``since`` is ahead of the feed or further behind than the catch-up bound."""
    cluster = make_cluster({"LIVEFEED_CATCHUP_MAX_EVENTS": "20"})
    slug = "sse"
    await cluster.create_feed(slug)
    n = len(cluster.servers)
    for i in range(15):
        await cluster.post(i % n, slug, body=f"before {i}")

    by_header = SseReader("sse-header", slug, cluster.ws_urls(0), since=5).start()
    by_query = SseReader("sse-query", slug, cluster.ws_urls(n - 1), since=10, use_query=True)
    by_query.start()
    await asyncio.gather(
        wait_until_async(by_header.connected.is_set, 10),
        wait_until_async(by_query.connected.is_set, 10),
    )
    await writer(cluster, 0, slug, 10, seed=3)
    state = await cluster.state(slug)
    # Readers that started mid-history hold only what came after their since: compare the
    # part of the timeline they could know (entries changed after since).
    for reader, since in ((by_header, 5), (by_query, 10)):
        await reader.wait_rev(state.rev)
        assert reader.connections[0].first_rev == since + 1
        known = {e["id"]: e for e in state.entries if e["rev"] > since}
        assert {k: v for k, v in reader.model.entries.items() if k in known} == known
    await by_header.stop()
    await by_query.stop()

    async def first_events(since: int, *, header: bool) -> list[tuple[str, str]]:
        url = cluster.url(0, f"/sse/feeds/{slug}")
        headers = {"Last-Event-ID": str(since)} if header else {}
        params = {} if header else {"since": str(since)}
        got: list[tuple[str, str]] = []
        async with cluster.http.stream("GET", url, headers=headers, params=params) as response:
            assert response.status_code == 200
            fields: dict[str, str] = {}
            async for line in response.aiter_lines():
                if line.startswith(("id:", "event:")):
                    name, _, value = line.partition(": ")
                    fields[name] = value
                elif not line and "event" in fields:
                    got.append((fields["event"], fields.get("id", "")))
                    fields = {}
                    if len(got) == 2:
                        return got
        return got

    current = state.rev
    # Ahead of the feed (e.g. a database restored from an older backup): reset.
    assert await first_events(current + 50, header=True) == [
        ("hello", ""),
        ("reset", str(current)),
    ]
    # Too far behind for a catch-up (more than 20 events): reset.
    assert await first_events(current - 21, header=False) == [
        ("hello", ""),
        ("reset", str(current)),
    ]
    # Within the bound: the catch-up starts right after since.
    assert await first_events(current - 20, header=True) == [
        ("hello", ""),
        ("entry", str(current - 19)),
    ]
    # A reset-following reader reloads over HTTP and then stays exact.
    resetting = SseReader("sse-reset", slug, cluster.ws_urls(0), since=current - 30)
    resetting.allow_reset = True
    resetting.reload = lambda: cluster.state(slug)
    resetting.start()
    await wait_until_async(lambda: resetting.resets, 10)
    await cluster.post(0, slug, body="after the reset")
    await assert_converged(cluster, slug, [resetting])
    await resetting.stop()
    assert resetting.resets == [current]


async def test_websocket_catchup_bound_and_reset(make_cluster: MakeCluster) -> None:
    """The WebSocket side of scenario 6: unknown/too-old since → hello + reset."""
    cluster = make_cluster({"LIVEFEED_CATCHUP_MAX_EVENTS": "5"})
    slug = "wsreset"
    await cluster.create_feed(slug)
    for i in range(8):
        await cluster.post(0, slug, body=f"e{i}")
    reader = WsReader("ws-old", slug, cluster.ws_urls(0), since=1)
    reader.allow_reset = True
    reader.reload = lambda: cluster.state(slug)
    reader.start()
    await wait_until_async(lambda: reader.resets, 10)
    # Reloaded, it resumes from the API's rev and stays exact.
    await cluster.post(0, slug, body="after the reset")
    await assert_converged(cluster, slug, [reader])
    await reader.stop()
    assert reader.resets == [8]
    # Exactly 5 behind: caught up, no reset.
    rev = (await cluster.state(slug)).rev
    ok = WsReader("ws-ok", slug, cluster.ws_urls(0), since=rev - 5).start()
    await ok.wait_rev(rev)
    await ok.stop()
    assert ok.connections[0].first_rev == rev - 4 and ok.resets == []


async def test_lone_reader_reconnecting_stays_subscribed(make_cluster: MakeCluster) -> None:
    """A process whose only reader of a feed leaves and comes straight back must still be
    subscribed to that feed: each post on the other process arrives without waiting for
    the safety resync (set far away here)."""
    cluster = make_cluster({"LIVEFEED_RESYNC_SECONDS": "60"})
    slug = "lone"
    await cluster.create_feed(slug)
    n = len(cluster.servers)
    reader = WsReader("lone", slug, cluster.ws_urls(n - 1), abort_every=1).start()
    await wait_until_async(reader.connected.is_set, 10)
    for i in range(25):
        entry = await cluster.post(0, slug, body=f"post {i}")
        await reader.wait_rev(entry["rev"], timeout=3)
    await assert_converged(cluster, slug, [reader])
    await reader.stop()
