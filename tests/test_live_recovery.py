"""Each recovery path of the live delivery, forced on its own, with the other safety nets
turned off or set far away — so that a passing test means *that* mechanism works, not that
another one healed the failure before anything looked.

Every test runs a two-process cluster (PostgreSQL + Redis, ``tests/live_support.py``) with
readers on both processes, and asserts the per-connection guarantee (hello first, every rev
once and in order, a timeline equal to the API's) plus a deadline set by the mechanism
under test:

* pub/sub resubscription after a Redis restart: resync at 60 s, so only the re-established
  subscriptions can deliver within the store poll interval after the restart;
* writes committed while the pub/sub connection is down: store poll and resync at 60 s, so
  only the catch-up on reconnect can deliver them;
* a commit that is never published (``livefeed import`` run without Redis): only the
  resync re-read can deliver it, within its interval, with no reader reconnecting.

Each was seen failing with its mechanism disabled (see the closing note of issue 16).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

from tests.live_support import (
    Cluster,
    Factory,
    Reader,
    SseReader,
    WsReader,
    assert_converged,
    start_cluster,
)
from tests.ops_support import scrape
from tests.support.services import (
    PostgresServer,
    RedisServer,
    find_livefeed_executable,
    wait_until_async,
)

FAR = "60"  # seconds: a safety net set this far away cannot be what delivers in a test
#: Scheduling slack on top of a mechanism's own interval, on a loaded 2-core machine.
MARGIN = 1.5


def readers_on_both(cluster: Cluster, slug: str) -> list[Reader]:
    """A WebSocket and an SSE reader on each process."""
    readers: list[Reader] = []
    for i in range(len(cluster.servers)):
        readers.append(WsReader(f"ws{i}", slug, [cluster.servers[i].ws_url]).start())
        readers.append(SseReader(f"sse{i}", slug, [cluster.servers[i].ws_url]).start())
    return readers


async def all_connected(readers: list[Reader]) -> None:
    await asyncio.gather(*(wait_until_async(r.connected.is_set, 10) for r in readers))


async def broker_state(cluster: Cluster) -> list[tuple[float, float]]:
    """(``livefeed_broker_connected``, ``livefeed_broker_reconnects_total``) per process."""
    states = []
    for server in cluster.servers:
        samples = await scrape(cluster.http, server.base_url)
        states.append(
            (samples["livefeed_broker_connected"], samples["livefeed_broker_reconnects_total"])
        )
    return states


async def reach_within(readers: list[Reader], rev: int, seconds: float, what: str) -> None:
    """Every reader applies ``rev`` within ``seconds``, or the test fails naming who did not."""
    try:
        await asyncio.gather(*(r.wait_rev(rev, timeout=seconds) for r in readers))
    except TimeoutError:
        late = {r.name: r.model.rev for r in readers if r.model.rev < rev}
        raise AssertionError(f"{what}: rev {rev} not applied within {seconds}s by {late}") from None


async def delivered_within(
    cluster: Cluster, via: int, slug: str, readers: list[Reader], seconds: float, what: str
) -> float:
    """Post through process ``via``; every reader applies it within ``seconds``; return how
    long that took."""
    started = time.monotonic()
    entry = await cluster.post(via, slug, body=f"{what}, through process {via}")
    await reach_within(readers, entry["rev"], seconds, what)
    return time.monotonic() - started


async def stop_all(readers: list[Reader]) -> None:
    for reader in readers:
        assert len(reader.connections) == 1, f"{reader.name} reconnected: {reader.connections}"
        await reader.stop()


async def test_redis_restart_resubscribes_and_delivers_within_the_poll_interval(
    livefeed_factory: Factory,
    postgres_server: PostgresServer,
    fresh_redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    """During the outage the store poll delivers, after it the re-established pub/sub
    subscriptions do — each within LIVEFEED_STORE_POLL_SECONDS (+ slack), while the resync
    (60 s) is too far away to be what delivers."""
    poll = 1.0
    cluster = start_cluster(
        "redis",
        livefeed_factory,
        tmp_path=tmp_path,
        postgres=postgres_server,
        redis_url=fresh_redis_server.url,
        env={"LIVEFEED_STORE_POLL_SECONDS": str(poll), "LIVEFEED_RESYNC_SECONDS": FAR},
    )
    slug = "resubscribe"
    await cluster.create_feed(slug)
    readers = readers_on_both(cluster, slug)
    await all_connected(readers)
    for i in range(4):
        await delivered_within(cluster, i % 2, slug, readers, MARGIN, "pub/sub, Redis up")

    fresh_redis_server.kill()

    async def both_down() -> bool:
        return all(connected == 0 for connected, _ in await broker_state(cluster))

    await wait_until_async(both_down, timeout=15, message="both processes see Redis gone")
    for i in range(4):
        await delivered_within(cluster, i % 2, slug, readers, poll + MARGIN, "store poll, outage")

    fresh_redis_server.start()

    async def both_resubscribed() -> bool:
        return all(c == 1 and n >= 1 for c, n in await broker_state(cluster))

    await wait_until_async(both_resubscribed, timeout=20, message="pub/sub reconnected")
    # The poll is back at the resync interval (60 s): only pub/sub can be this quick.
    for i in range(6):
        await delivered_within(cluster, i % 2, slug, readers, poll + MARGIN, "after the restart")
    await assert_converged(cluster, slug, readers, timeout=5)
    await stop_all(readers)
    await cluster.aclose()


async def test_writes_while_pubsub_is_down_arrive_by_the_reconnect_catch_up(
    livefeed_factory: Factory,
    postgres_server: PostgresServer,
    fresh_redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    """Store poll and resync at 60 s: what was committed while pub/sub was down reaches the
    other process's readers only through the catch-up it runs when pub/sub reconnects."""
    cluster = start_cluster(
        "redis",
        livefeed_factory,
        tmp_path=tmp_path,
        postgres=postgres_server,
        redis_url=fresh_redis_server.url,
        env={"LIVEFEED_STORE_POLL_SECONDS": FAR, "LIVEFEED_RESYNC_SECONDS": FAR},
    )
    slug = "reconnect-catch-up"
    await cluster.create_feed(slug)
    readers = readers_on_both(cluster, slug)
    await all_connected(readers)
    first = await cluster.post(1, slug, body="before the outage")
    await reach_within(readers, first["rev"], 10, "before the outage")

    fresh_redis_server.kill()

    async def both_down() -> bool:
        return all(connected == 0 for connected, _ in await broker_state(cluster))

    await wait_until_async(both_down, timeout=15, message="both processes see Redis gone")
    local = readers[:2]  # process 0's readers: delivered in-process, broker or not
    remote = readers[2:]
    last = first
    for i in range(5):
        last = await cluster.post(0, slug, body=f"while pub/sub is down {i}")
    await reach_within(local, last["rev"], MARGIN, "in-process delivery")
    # Nothing else can carry these to process 1 now (poll and resync are 60 s away).
    await asyncio.sleep(1.0)  # a window for a wrong path to show itself, not a wait for one
    assert [r.model.rev for r in remote] == [first["rev"]] * len(remote)

    fresh_redis_server.start()
    # The broker's reconnect backoff is capped at 5 s (x1.5 jitter); poll and resync: 60 s.
    await reach_within(remote, last["rev"], 7.5 + 2 * MARGIN, "catch-up on reconnect")
    process1_connected, process1_reconnects = (await broker_state(cluster))[1]
    assert process1_connected == 1 and process1_reconnects >= 1, "no reconnect, no catch-up"
    await assert_converged(cluster, slug, readers, timeout=5)
    await stop_all(readers)
    await cluster.aclose()


async def test_commit_without_publish_converges_within_the_resync_interval(
    livefeed_factory: Factory,
    postgres_server: PostgresServer,
    redis_url: str,
    tmp_path: Path,
) -> None:
    """``livefeed import`` run without LIVEFEED_REDIS_URL commits entries no broker ever
    announces (as a writer killed between commit and publish would). With Redis up the
    store poll is off; the resync re-read brings every reader there within its interval,
    without any reader reconnecting."""
    resync = 3.0
    cluster = start_cluster(
        "redis",
        livefeed_factory,
        tmp_path=tmp_path,
        postgres=postgres_server,
        redis_url=redis_url,
        env={"LIVEFEED_STORE_POLL_SECONDS": FAR, "LIVEFEED_RESYNC_SECONDS": str(resync)},
    )
    slug = "unpublished"
    await cluster.create_feed(slug, locale="fr-FR", timezone="Europe/Paris")
    readers = readers_on_both(cluster, slug)
    await all_connected(readers)
    posted = await cluster.post(0, slug, body="published as usual")
    await reach_within(readers, posted["rev"], 10, "published entry")

    export = tmp_path / "export.txt"
    export.write_text(
        "Jeudi 24 juin\n"
        + "".join(f"Entrée {n} du jeudi.\n" for n in range(12, 0, -1))
        + "Mercredi 23 juin\n"
        + "".join(f"Entrée {n} du mercredi.\n" for n in range(8, 0, -1)),
        encoding="utf-8",
    )
    exe = find_livefeed_executable()
    assert exe
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEFEED_")}
    env["LIVEFEED_DATABASE_URL"] = cluster.servers[0].env["LIVEFEED_DATABASE_URL"]
    process = await asyncio.create_subprocess_exec(
        exe, "import", slug, str(export), "--year", "2021",
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0 and b"imported 20 entries" in out, err
    state = await cluster.state(slug)
    assert state.rev == posted["rev"] + 20
    await reach_within(readers, state.rev, resync + 2 * MARGIN, "unpublished commits")
    await assert_converged(cluster, slug, readers, timeout=5)
    await stop_all(readers)
    await cluster.aclose()
