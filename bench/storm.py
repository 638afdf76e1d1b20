"""Restart-storm benchmark: a deploy or crash during breaking news.

N WebSocket readers follow one feed on one livefeed process (or on two, behind Redis).
Then the process gets SIGTERM (its readers are closed with 1012) and a new process starts
on the same port and database. Every reader reconnects as the browser client does
(``bench.client`` storm mode: ``since`` = the last rev it received, 250–2000 ms after a
1012, the page's exponential backoff after a failed attempt, 5 s after a 1013) while a
reporter posts entries to the feed. Measured:

- server CPU of the storm (new process, from healthy until every reader holds the last
  post) ÷ server CPU of connecting the same readers the first time;
- the same ÷ (that first connect + the CPU of the same posts, at the same pace, to the same
  readers all connected, measured right after the storm): the storm window holds the posts'
  fan-out as well as the reconnections, the first-connect window none, so this is the
  like-for-like figure (what the restart adds to the news it happened during);
- the reporter's slowest POST;
- closes by code (1011 should never happen), reconnect attempts;
- every reader's revs: each event the next rev (no gap), none twice, ending at the last post;
- from the moment the reporter sent the last post until every reader held it.

``python -m bench.storm [--readers 10000] [--posts 20] [--setups sqlite,postgresql,redis-2]
[--smoke] [--livefeed-src DIR]`` (``--livefeed-src``: serve another checkout's ``app``,
e.g. main's, with this virtualenv, for a before/after comparison).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.client import Workers
from bench.profile import Profiler
from bench.run import RESULTS, machine
from bench.util import cpu_seconds, raise_nofile, run_on_uvloop, tempdir
from tests.support.services import LivefeedServer, PostgresServer, RedisServer

TOKEN = "bench-storm-admin-token"
SLUG = "storm"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SETUPS = ("sqlite", "postgresql", "redis-2")


def _launcher(tmp: Path, src: Path | None) -> str | None:
    """A ``livefeed`` executable serving ``src``'s ``app`` package (None: this checkout)."""
    if src is None:
        return None
    script = tmp / "livefeed-src"
    script.write_text(
        f"#!/bin/sh\nPYTHONPATH={src} exec {sys.executable} -c "
        "'import sys; from app.cli import main; sys.exit(main())' \"$@\"\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


async def _post(
    http: httpx.AsyncClient, base: str, body: str, errors: list[str] | None = None
) -> tuple[int, float]:
    """POST one entry; return (its rev, seconds until it was created). Retries, with the
    same ``Idempotency-Key`` (as ``livefeed post`` does), while nothing listens and after a
    5xx — each 5xx is recorded in ``errors``."""
    t0 = time.monotonic()
    headers = {**AUTH, "Idempotency-Key": f"storm-{time.time_ns()}"}
    while True:
        try:
            r = await http.post(
                f"{base}/api/feeds/{SLUG}/entries", json={"body": body}, headers=headers
            )
        except httpx.TransportError:
            await asyncio.sleep(0.05)
            continue
        if r.status_code >= 500 and errors is not None:
            errors.append(f"{r.status_code}: {r.text[:100]}")
            continue
        if r.status_code != 201:
            raise RuntimeError(f"POST answered {r.status_code}: {r.text[:200]}")
        return int(r.json()["rev"]), time.monotonic() - t0


async def run_setup(
    setup: str,
    readers: int,
    posts: int,
    interval: float,
    clients: int,
    src: Path | None,
    log: Any,
    profile: Path | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"setup": setup, "readers": readers, "posts": posts}
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempdir("livefeed-storm-")))
        # Every reader comes from 127.0.0.1: no per-address cap (a real storm comes from
        # thousands of addresses).
        env = {
            "LIVEFEED_ADMIN_TOKEN": TOKEN,
            "LIVEFEED_LOG_LEVEL": "warning",
            "LIVEFEED_MAX_CONNECTIONS_PER_IP": "0",
        }
        if setup == "postgresql":
            pg = stack.enter_context(PostgresServer())
            env["LIVEFEED_DATABASE_URL"] = pg.create_database()
        else:
            env["LIVEFEED_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp}/storm.db"
        n_proc = 2 if setup == "redis-2" else 1
        if n_proc > 1:
            redis = stack.enter_context(RedisServer())
            env["LIVEFEED_REDIS_URL"] = redis.url
        exe = _launcher(tmp, src)
        if setup == "postgresql":
            migrate = await asyncio.create_subprocess_exec(
                exe or str(Path(sys.executable).parent / "livefeed"),
                "migrate",
                env={**os.environ, **env},
            )
            if await migrate.wait() != 0:
                raise RuntimeError("livefeed migrate failed")
        servers = [LivefeedServer(env, executable=exe) for _ in range(n_proc)]
        for server in servers:
            stack.callback(server.close)
        # The first starts alone: it migrates an SQLite database.
        for server in servers:
            await asyncio.to_thread(server.start)
        victim, other = servers[0], servers[-1]
        async with httpx.AsyncClient(timeout=60) as http:
            created = await http.post(
                f"{victim.base_url}/api/feeds", json={"slug": SLUG, "title": "Storm"}, headers=AUTH
            )
            assert created.status_code == 201, created.text
            rev0 = 0
            for i in range(5):
                rev0, _ = await _post(http, victim.base_url, f"before the storm {i}")

            cfg = {
                "mode": "storm",
                "targets": [
                    {"host": s.host, "port": s.port, "path": f"/ws/feeds/{SLUG}"} for s in servers
                ],
                "count": readers,
                "since": rev0,
                "concurrency": 100,
                "connect_timeout": 120,
            }
            workers = Workers(cfg, clients)
            try:
                assert victim.pid is not None
                cpu0 = cpu_seconds([victim.pid])
                t0 = time.monotonic()
                ready = await workers.start(wait_s=120 + readers / 20)
                out["first_connect_s"] = time.monotonic() - t0
                out["first_connect_cpu_s"] = cpu_seconds([victim.pid]) - cpu0
                out["connected"] = sum(r["connected"] for r in ready)
                log(
                    f"  {out['connected']}/{readers} readers in {out['first_connect_s']:.1f}s, "
                    f"victim CPU {out['first_connect_cpu_s']:.2f}s"
                )
                victim_readers = readers // n_proc + (readers % n_proc > 0)
                out["victim_readers"] = victim_readers
                await asyncio.sleep(1.0)

                # -- the storm ----------------------------------------------------------
                t_term = time.monotonic()
                await asyncio.to_thread(victim.terminate)
                out["shutdown_s"] = time.monotonic() - t_term
                await asyncio.to_thread(victim.start)
                t_up = time.monotonic()
                out["restart_s"] = t_up - t_term
                assert victim.pid is not None
                storm_pids = [victim.pid]
                profiler = None
                if profile is not None:
                    await asyncio.to_thread(profile.mkdir, parents=True, exist_ok=True)
                    profiler = Profiler(profile, f"storm-{setup}", storm_pids, settle_s=0)
                    await profiler.start()
                cpu_up = cpu_seconds(storm_pids)
                out["boot_cpu_s"] = cpu_up
                post_base = other.base_url
                post_errors: list[str] = []
                last_rev, latencies, t_last_post_ns = await _post_series(
                    http, post_base, posts, interval, t_up, "during the storm", post_errors
                )
                out["last_rev"] = last_rev
                results = await _all_holding(workers, last_rev, readers)
                cpu_end = cpu_seconds(storm_pids)
                if profiler is not None:
                    out["profile"] = await profiler.stop()
                out["storm_s"] = time.monotonic() - t_up
                out["storm_cpu_s"] = cpu_end - cpu_up
                out["cpu_ratio"] = out["storm_cpu_s"] / max(out["first_connect_cpu_s"], 1e-9)
                # Readers of the victim only (the other process's readers never left).
                out["cpu_ratio_note"] = (
                    f"victim process: {victim_readers} readers reconnected"
                    if n_proc > 1
                    else "all readers reconnected"
                )
                out["post_latencies_s"] = [round(took, 4) for took in latencies]  # in order
                out["post_max_s"] = max(latencies)
                out["post_p50_s"] = sorted(latencies)[len(latencies) // 2]
                out["post_errors"] = post_errors
                closes: dict[str, int] = {}
                for r in results:
                    for code, n in r["closes"].items():
                        closes[code] = closes.get(code, 0) + n
                out["closes"] = closes
                out["closed_1011"] = closes.get("1011", 0)
                out["holding_last"] = sum(r["holding"] for r in results)
                out["gaps"] = sum(r["gaps"] for r in results)
                out["duplicates"] = sum(r["duplicates"] for r in results)
                out["resets"] = sum(r["resets"] for r in results)
                out["failed_attempts"] = sum(r["failed_attempts"] for r in results)
                out["final_revs"] = [r["final_revs"] for r in results]
                reached = max(r["last_reached_ns"] for r in results)
                out["all_hold_last_after_s"] = (reached - t_last_post_ns) / 1e9
                # -- the same news without a restart: the like-for-like baseline ---------
                # The storm window holds the posts' fan-out as well as the reconnections;
                # the same posts, at the same pace, to the same readers all connected, tell
                # what the news alone costs.
                await asyncio.sleep(1.0)
                cpu_calm = cpu_seconds(storm_pids)
                t_calm = time.monotonic()
                calm_errors: list[str] = []  # the storm's slowest-POST column counts its own
                calm_rev, _, _ = await _post_series(
                    http, post_base, posts, interval, t_calm, "after the storm", calm_errors
                )
                calm = await _all_holding(workers, calm_rev, readers)
                out["calm_posts_cpu_s"] = cpu_seconds(storm_pids) - cpu_calm
                out["calm_post_errors"] = calm_errors
                out["calm_holding_last"] = sum(r["holding"] for r in calm)
                out["calm_gaps"] = sum(r["gaps"] for r in calm) - out["gaps"]
                out["calm_duplicates"] = sum(r["duplicates"] for r in calm) - out["duplicates"]
                out["cpu_ratio_like_for_like"] = out["storm_cpu_s"] / max(
                    out["first_connect_cpu_s"] + out["calm_posts_cpu_s"], 1e-9
                )
                out["traceback_in_logs"] = sum(s.log_text().count("Traceback") for s in servers)
                out["ok"] = True
            finally:
                await workers.stop()
    return out


async def _post_series(
    http: httpx.AsyncClient,
    base: str,
    posts: int,
    interval: float,
    start: float,
    label: str,
    errors: list[str],
) -> tuple[int, list[float], int]:
    """``posts`` entries, one every ``interval`` s from monotonic time ``start``; return
    (the last one's rev, each POST's seconds in order, when the last one was sent in ns)."""
    last_rev, t_last_ns = 0, 0
    latencies: list[float] = []
    for i in range(posts):
        await asyncio.sleep(max(0.0, start + i * interval - time.monotonic()))
        t_last_ns = time.time_ns()  # when the reporter sent it
        last_rev, took = await _post(http, base, f"{label} {i}", errors)
        latencies.append(took)
    return last_rev, latencies, t_last_ns


async def _all_holding(workers: Workers, rev: int, readers: int) -> list[dict[str, Any]]:
    """Each load client's result once every reader it runs holds ``rev`` (or it gave up)."""
    wait_s = 60 + readers / 200
    return await asyncio.gather(*(_ask(p, f"await {rev} {wait_s:g}") for p in workers.procs))


async def _ask(proc: asyncio.subprocess.Process, command: str) -> dict[str, Any]:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(command.encode() + b"\n")
    await proc.stdin.drain()
    while True:
        line = await proc.stdout.readline()
        if not line:
            raise RuntimeError("storm client exited early")
        msg = json.loads(line)
        if msg.get("event") == "result":
            return dict(msg)


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| setup | readers | storm CPU ÷ first connect | storm CPU ÷ (first connect + the "
        "same posts, no restart) | slowest POST | closed 1011 | "
        "all caught up (gap / dup / reset) | last post held by all after | closes | restart |"
    )
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        if not r.get("ok"):
            lines.append(f"| {r['setup']} | failed: {str(r.get('error'))[:150]} |" + " |" * 8)
            continue
        like = (
            f"{r['cpu_ratio_like_for_like']:.2f}× ({r['storm_cpu_s']:.2f} s / "
            f"({r['first_connect_cpu_s']:.2f} + {r['calm_posts_cpu_s']:.2f}) s)"
            if "cpu_ratio_like_for_like" in r
            else "–"
        )
        caught = (
            f"{r['holding_last']}/{r['readers']} ({r['gaps']} / {r['duplicates']} / {r['resets']})"
        )
        closes = ", ".join(f"{k}×{v}" for k, v in sorted(r["closes"].items()))
        lines.append(
            f"| {r['setup']} | {r['readers']} | {r['cpu_ratio']:.2f}× "
            f"({r['storm_cpu_s']:.2f} s / {r['first_connect_cpu_s']:.2f} s) | {like} "
            f"| {r['post_max_s'] * 1000:.0f} ms"
            + (f" ({len(r['post_errors'])}× 5xx, retried)" if r.get("post_errors") else "")
            + f" | {r['closed_1011']} | {caught} "
            f"| {r['all_hold_last_after_s']:.2f} s | {closes} | {r['restart_s']:.1f} s |"
        )
    return "\n".join(lines)


async def amain(args: argparse.Namespace) -> int:
    raise_nofile(max(65536, args.readers * 2 + 1000))

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    rows = []
    started = time.strftime("%Y%m%d-%H%M%S")
    for setup in args.setups.split(","):
        log(f"== storm {setup}: {args.readers} readers, {args.posts} posts")
        try:
            row = await run_setup(
                setup,
                args.readers,
                args.posts,
                args.interval / 1000,
                args.clients,
                args.src,
                log,
                args.profile,
            )
        except Exception as exc:
            import traceback

            row = {"setup": setup, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
            log(traceback.format_exc())
        log(f"  {json.dumps({k: v for k, v in row.items() if k != 'final_revs'})}")
        rows.append(row)
    md = "\n".join(
        [
            f"## Restart storm: {args.readers} readers, {args.posts} posts one every "
            f"{args.interval:g} ms ({started}, {os.cpu_count()} CPUs"
            + (f", livefeed from {args.src}" if args.src else "")
            + ")",
            "",
            table(rows),
            "",
        ]
    )
    print(md)
    raw = {"started": started, "args": vars(args), "machine": machine(), "setups": rows}
    write_results(Path(args.results), f"{started}{'-smoke' if args.smoke else ''}", md, raw)
    return 0 if all(r.get("ok") for r in rows) else 1


def write_results(results: Path, stem: str, md: str, raw: dict[str, Any]) -> None:
    """``storm-STEM.md``/``.json`` plus ``storm-latest[-smoke].md``/``.json`` (the fan-out
    benchmark's ``latest.*`` are left alone)."""
    results.mkdir(parents=True, exist_ok=True)
    latest = "storm-latest-smoke" if stem.endswith("-smoke") else "storm-latest"
    for name in (f"storm-{stem}", latest):
        (results / f"{name}.md").write_text(md)
        (results / f"{name}.json").write_text(json.dumps(raw, indent=1, default=str))


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.storm", description=__doc__.splitlines()[0])
    ap.add_argument("--readers", type=int, default=None)
    ap.add_argument("--posts", type=int, default=None)
    ap.add_argument("--interval", type=float, default=500.0, help="ms between posts")
    ap.add_argument("--setups", default=",".join(SETUPS))
    ap.add_argument("--clients", type=int, default=2, help="load-client worker processes")
    ap.add_argument("--smoke", action="store_true", help="tiny run: 60 readers, 5 posts")
    ap.add_argument("--results", default=str(RESULTS))
    ap.add_argument("--livefeed-src", dest="src", type=Path, default=None)
    ap.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="py-spy the restarted process during the storm; raw stacks go here",
    )
    a = ap.parse_args(argv)
    if a.readers is None:
        a.readers = 60 if a.smoke else 10_000
    if a.posts is None:
        a.posts = 5 if a.smoke else 20
    return a


def main(argv: list[str] | None = None) -> int:
    return run_on_uvloop(amain(parse(argv)))


if __name__ == "__main__":
    sys.exit(main())
