"""Scheduled publishing across processes: two ``livefeed serve`` processes on one database
(SQLite + Redis, PostgreSQL + Redis), many entries falling due at the same moments, one
process restarted in between, and then a post that falls due while every process is down.

What must hold: every scheduled entry is published exactly once (one ``created`` change
each in the change log, nothing else logged for it), and every strict reader (WebSocket and
SSE on each process, reconnecting with ``since`` through the restart) applies each change
exactly once and ends with the API's timeline.

Seen failing with the claim made non-conditional (``Store._publish_scheduled``'s UPDATE
``WHERE id = :id`` only, without ``status = 'scheduled' AND publish_at <= now``): both
processes publish the entries they both found due, so entries get two ``created`` changes.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.live_support import (
    ADMIN,
    BASE_ENV,
    Cluster,
    Factory,
    Reader,
    SseReader,
    WsReader,
    assert_converged,
    migrate,
)
from tests.support.services import PostgresServer, wait_until_async
from tests.support.watch import ABRUPT

BATCHES = 3
PER_BATCH = 15
#: Seconds between batches: the restart of process 0 happens while the second is due.
SPACING = 3.0


def _cluster(
    kind: str,
    factory: Factory,
    tmp_path: Path,
    postgres_server: PostgresServer,
    redis_url: str,
) -> Cluster:
    env = {
        **BASE_ENV,
        "LIVEFEED_REDIS_URL": redis_url,
        "LIVEFEED_SCHEDULER_INTERVAL_SECONDS": "0.2",
    }
    if kind == "sqlite":
        env["LIVEFEED_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/live.db"
    else:
        postgres_server.start()
        env["LIVEFEED_DATABASE_URL"] = postgres_server.create_database()
        migrate(env["LIVEFEED_DATABASE_URL"])
    return Cluster(kind, [factory(env), factory(env)])


async def _schedule(cluster: Cluster, slug: str, i: int, at: datetime, body: str) -> int:
    response = await cluster.http.post(
        cluster.url(i, f"/api/feeds/{slug}/entries"),
        json={"body": body, "status": "scheduled", "publish_at": at.isoformat()},
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    entry: dict[str, Any] = response.json()
    assert entry["status"] == "scheduled" and entry["rev"] == 0
    return int(entry["id"])


async def _created_per_entry(cluster: Cluster, slug: str) -> tuple[Counter[int], list[str]]:
    body = (
        await cluster.http.get(cluster.url(1, f"/api/feeds/{slug}/changes"), params={"since": 0})
    ).json()
    created: Counter[int] = Counter()
    other: list[str] = []
    for event in body["events"]:
        if event["type"] == "entry" and event["op"] == "created":
            created[event["entry"]["id"]] += 1
        else:
            other.append(f"{event['type']}/{event.get('op')}")
    return created, other


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
# Stopped processes drain their WebSocket readers with 1012; SSE streams just end.
@pytest.mark.close_codes(1012, ABRUPT)
async def test_scheduled_entries_publish_exactly_once_across_processes_and_restarts(
    kind: str,
    livefeed_factory: Factory,
    tmp_path: Path,
    postgres_server: PostgresServer,
    redis_url: str,
) -> None:
    cluster = _cluster(kind, livefeed_factory, tmp_path, postgres_server, redis_url)
    slug = "sched"
    readers: list[Reader] = []
    try:
        await cluster.create_feed(slug)
        for i in range(2):
            urls = cluster.ws_urls(i)
            readers.append(WsReader(f"ws{i}", slug, urls).start())
            readers.append(SseReader(f"sse{i}", slug, urls).start())
        await asyncio.gather(*(wait_until_async(r.connected.is_set, 10) for r in readers))

        # Batches of entries all due at the same instant, written through both processes. The
        # lead leaves room for a loaded CI machine (45 sequential POSTs took over 6 s at load 12):
        # each batch is written concurrently, and the test asserts the lead was enough.
        start = datetime.now(UTC) + timedelta(seconds=15)
        due = [start + timedelta(seconds=SPACING * b) for b in range(BATCHES)]
        ids: list[int] = []
        for b, at in enumerate(due):
            ids += await asyncio.gather(
                *(
                    _schedule(cluster, slug, n % 2, at, f"batch {b} entry {n}")
                    for n in range(PER_BATCH)
                )
            )
        assert datetime.now(UTC) < due[0], "the machine was too slow to schedule in time"

        async def published(count: int) -> bool:
            created, _other = await _created_per_entry(cluster, slug)
            return sum(created.values()) >= count

        # Restart process 0 once the first batch is out, while the second falls due.
        await wait_until_async(lambda: published(PER_BATCH), timeout=60, message="batch 0")
        await asyncio.to_thread(cluster.servers[0].restart)
        await wait_until_async(lambda: published(len(ids)), timeout=60, message="all batches")

        # A post that falls due while every process is down is published at start.
        late_at = datetime.now(UTC) + timedelta(seconds=2)
        late = await _schedule(cluster, slug, 1, late_at, "due while all were down")
        for server in cluster.servers:
            await asyncio.to_thread(server.terminate)
        # The clock passes publish_at while every process is down.
        await wait_until_async(lambda: datetime.now(UTC) > late_at, timeout=30)
        for server in cluster.servers:
            await asyncio.to_thread(server.start)
        ids.append(late)
        await wait_until_async(lambda: published(len(ids)), timeout=60, message="late entry")

        created, other = await _created_per_entry(cluster, slug)
        twice = {entry_id: n for entry_id, n in created.items() if n != 1}
        assert not twice, f"published more than once: {twice}"
        assert sorted(created) == sorted(ids)
        assert other == [], f"unexpected changes: {other}"
        state = await assert_converged(cluster, slug, readers, timeout=60)
        assert sorted(e["id"] for e in state.entries) == sorted(ids)
        assert all(e["status"] == "published" for e in state.entries)
        for reader in readers:
            assert reader.model.applied == len(ids), (reader.name, reader.model.applied)
    finally:
        for reader in readers:
            await reader.stop()
        await cluster.aclose()
