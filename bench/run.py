"""Fan-out benchmark: every system, the same load client, one Markdown table.

For each system: start it on free 127.0.0.1 ports, open N WebSocket readers (offering
permessage-deflate like Chromium) from client worker processes, measure the server's RSS
before/after (memory per idle connection), publish M messages back-to-back, and measure the
server process tree's CPU (user+sys) from the first publish to the last delivery, every
delivery's publish→delivery latency, losses and duplicates. Then the page benchmark
(``bench/page.py``). Results go to ``bench/results/`` (timestamped, plus ``latest.*``).

The machine's speed drifts (by 20 % between runs on a shared VM, Nchan's own figure with
it), so the systems are measured in ``--rounds`` rounds (default 3), each round every system
in turn. The table gives each system's median round, its ratio to Nchan as the median of
the per-round ratios (each against the Nchan run minutes from it) with their range, and
losses and duplicates summed over every round.

``python -m bench.run [--systems a,b] [--readers 2000] [--messages 100] [--rounds 3] [--smoke]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from bench.client import Workers, latencies, marker
from bench.media import media_table
from bench.peers import NAMES, peer_class
from bench.profile import Profiler
from bench.util import cpu_seconds, percentile, raise_nofile, rss_bytes, run_on_uvloop, tempdir

RESULTS = Path(__file__).resolve().parent / "results"
SMOKE_SYSTEMS = ["floor", "nchan", "fastapi-tutorial", "livefeed-1"]
REFERENCE = "nchan"

# Non-livefeed peers get a JSON payload shaped and sized like livefeed's entry event, so
# every system frames and (if negotiated) compresses comparable bytes.
_BODY = (
    "Goal! A low cross from the left, a touch at the near post and it is 2-1. "
    "The stadium erupts; the visitors ask for offside, the referee waves it away."
)


def payload(system: str, seq: int) -> str:
    tag = marker(seq, time.time_ns())
    if system.startswith("livefeed"):
        return f"{tag} {_BODY}"
    event = {
        "type": "entry",
        "op": "created",
        "rev": seq + 2,
        "entry": {
            "id": seq + 1,
            "feed": "bench",
            "rev": seq + 2,
            "published_at": "2024-06-24T21:04:05+02:00",
            "updated_at": "2024-06-24T21:04:05+02:00",
            "author": None,
            "body": f"{tag} {_BODY}",
            "html": f"<p>{tag} {_BODY}</p>",
            "pinned": False,
            "key_event": False,
            "deleted": False,
        },
    }
    return json.dumps(event, separators=(",", ":"))


async def bench_system(
    name: str,
    readers: int,
    messages: int,
    clients: int,
    tmp: Path,
    log: Any,
    profile: Path | None = None,
    interval: float = 0.0,
) -> dict[str, Any]:
    peer = peer_class(name)(tmp / name)
    peer.tmp.mkdir(parents=True, exist_ok=True)
    workers: Workers | None = None
    out: dict[str, Any] = {"system": name, "readers": readers, "messages": messages}
    try:
        await peer.start()
        await peer.prepare()
        await asyncio.sleep(0.5)
        pids = peer.server_pids()
        rss0 = rss_bytes(pids)
        cfg = {
            "targets": peer.targets(),
            "count": readers,
            "messages": messages,
            "protocol": peer.protocol,
            "ready": peer.ready,
            "deflate": True,
            "concurrency": 100,
            "connect_timeout": 60,
        }
        workers = Workers(cfg, clients)
        connect_cpu0 = cpu_seconds(pids)
        t0 = time.monotonic()
        ready = await workers.start(wait_s=120 + readers / 50)
        connected = sum(r["connected"] for r in ready)
        out["connect_s"] = time.monotonic() - t0
        # Server CPU of opening every stream (handshake, hello), per reader: what a
        # restart storm pays again (``bench.storm``).
        out["connect_cpu_s"] = cpu_seconds(pids) - connect_cpu0
        out["connect_cpu_us_per_reader"] = out["connect_cpu_s"] * 1e6 / max(connected, 1)
        out["connected"] = connected
        out["connect_errors"] = [e for r in ready for e in r["errors"]][:5]
        out["deflate_negotiated"] = sum(r["deflate"] for r in ready)
        await asyncio.sleep(1.0)
        rss1 = rss_bytes(pids)
        out["rss_before"] = rss0
        out["rss_after"] = rss1
        out["mem_per_conn_kib"] = (rss1 - rss0) / max(connected, 1) / 1024
        log(f"  {connected}/{readers} readers connected in {out['connect_s']:.1f}s")

        per_proc = peer.process_pids()
        bpids = peer.broker_pids()
        wpids = workers.pids
        profiler = Profiler(profile, name, [p[0] for p in per_proc]) if profile else None
        if profiler:
            await profiler.start()
        cpu0 = cpu_seconds(pids)
        pcpu0 = [cpu_seconds(p) for p in per_proc]
        bcpu0 = cpu_seconds(bpids)
        t_start = time.monotonic()
        for seq in range(messages):
            if interval:
                await asyncio.sleep(max(0.0, t_start + seq * interval - time.monotonic()))
            await peer.publish(seq, payload(name, seq))
        out["publish_s"] = time.monotonic() - t_start
        results, t_end = await workers.results_within(30 + readers * messages / 5000)
        cpu1 = cpu_seconds(pids)
        pcpu1 = [cpu_seconds(p) for p in per_proc]
        bcpu1 = cpu_seconds(bpids)
        if profiler:
            out["profile"] = await profiler.stop()
        out["deliver_s"] = t_end - t_start
        del wpids

        lat = sorted(latencies(results))
        received = sum(r["received"] for r in results)
        expected = readers * messages
        out["expected"] = expected
        out["received"] = received
        out["lost"] = expected - received
        out["duplicates"] = sum(r["duplicates"] for r in results)
        out["closed_early"] = sum(r["closed_early"] for r in results)
        out["compressed_frames"] = sum(r["compressed_frames"] for r in results)
        out["per_reader_counts"] = [r["per_reader_counts"] for r in results]
        out["server_cpu_s"] = cpu1 - cpu0
        out["broker_cpu_s"] = bcpu1 - bcpu0
        out["client_cpu_s"] = sum(r["cpu_s"] for r in results)
        k = max(received, 1) / 1000
        out["cpu_ms_per_1k"] = out["server_cpu_s"] * 1000 / k
        out["broker_cpu_ms_per_1k"] = out["broker_cpu_s"] * 1000 / k
        out["client_cpu_ms_per_1k"] = out["client_cpu_s"] * 1000 / k
        out["p50_ms"] = percentile(lat, 0.50) / 1000
        out["p99_ms"] = percentile(lat, 0.99) / 1000
        out["max_ms"] = (lat[-1] / 1000) if lat else float("nan")
        if len(per_proc) > 1:
            share = [
                sum(1 for i in range(readers) if i % len(per_proc) == j)
                for j in range(len(per_proc))
            ]
            out["per_process"] = [
                {
                    "readers": share[j],
                    "cpu_s": pcpu1[j] - pcpu0[j],
                    "cpu_ms_per_1k": (pcpu1[j] - pcpu0[j]) * 1e6 / max(share[j] * messages, 1),
                }
                for j in range(len(per_proc))
            ]
        out["notes"] = peer.notes
        out["ok"] = True
    except Exception as e:
        out["ok"] = False
        out["error"] = f"{type(e).__name__}: {e}"
        out["traceback"] = traceback.format_exc()
        with contextlib.suppress(Exception):
            out["server_log"] = peer.logs()[-4000:]
    finally:
        if workers is not None:
            await workers.stop()
        await peer.stop()
    return out


def _f(v: Any, fmt: str = "{:.1f}") -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "–"
    return fmt.format(v)


def _deflate(r: dict[str, Any]) -> str:
    if not r["deflate_negotiated"]:
        return "declined"
    if r["compressed_frames"] >= r["received"] / 2:
        return "compressed"
    return "accepted, sent plain"


def combine(rounds: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per system from every round's rows (each round: every system once, in the
    same order): the round with the median CPU per delivery (the lower middle one of an
    even count), with ``lost``/``duplicates``/``closed_early`` summed over the rounds and
    ``cpu_x_rounds``/``p99_x_rounds``: the system's CPU and p99 ÷ the reference's, per round
    in which both succeeded. A system that failed in any round is reported by its failure."""
    combined: list[dict[str, Any]] = []
    for index in range(len(rounds[0])):
        runs = [r[index] for r in rounds]
        failed = next((r for r in runs if not r.get("ok")), None)
        if failed is not None:
            combined.append(failed)
            continue
        by_cpu = sorted(runs, key=lambda r: r["cpu_ms_per_1k"])
        row = dict(by_cpu[(len(by_cpu) - 1) // 2])
        for key in ("lost", "duplicates", "closed_early"):
            row[key] = sum(r[key] for r in runs)
        row["rounds"] = len(runs)
        row["cpu_ms_per_1k_rounds"] = [r["cpu_ms_per_1k"] for r in runs]
        cpu_x: list[float] = []
        p99_x: list[float] = []
        for one_round, run in zip(rounds, runs, strict=True):
            ref = next((r for r in one_round if r["system"] == REFERENCE and r.get("ok")), None)
            if ref and ref["cpu_ms_per_1k"] and ref["p99_ms"]:
                cpu_x.append(run["cpu_ms_per_1k"] / ref["cpu_ms_per_1k"])
                p99_x.append(run["p99_ms"] / ref["p99_ms"])
        row["cpu_x_rounds"] = cpu_x
        row["p99_x_rounds"] = p99_x
        combined.append(row)
    return combined


def _ratio(values: list[float] | None, single: float | None) -> str:
    """``1.19×``, or ``1.19× (1.04–1.24)`` over several rounds."""
    if not values:
        return _f(single, "{:.2f}×")
    if len(values) == 1:
        return f"{values[0]:.2f}×"
    return f"{statistics.median(values):.2f}× ({min(values):.2f}–{max(values):.2f})"


def table(rows: list[dict[str, Any]]) -> str:
    ref = next((r for r in rows if r["system"] == REFERENCE and r.get("ok")), None)
    head = (
        "| system | readers | deliveries | lost | dup | server CPU ms/1k deliveries | × nchan "
        "| redis CPU ms/1k | memory KiB/conn | p50 ms | p99 ms | p99 × nchan "
        "| client CPU ms/1k | deliveries/s | connect CPU µs/reader | deflate |"
    )
    lines = [head, "|" + "---|" * 16]
    for r in rows:
        if not r.get("ok"):
            lines.append(f"| {r['system']} | failed: {r.get('error', '?')[:120]} |" + " |" * 14)
            continue
        cpu_x = r["cpu_ms_per_1k"] / ref["cpu_ms_per_1k"] if ref and ref["cpu_ms_per_1k"] else None
        p99_x = r["p99_ms"] / ref["p99_ms"] if ref and ref["p99_ms"] else None
        broker = _f(r["broker_cpu_ms_per_1k"], "{:.2f}") if r["broker_cpu_s"] else "–"
        lines.append(
            f"| {r['system']} | {r['connected']}/{r['readers']} | {r['received']} | {r['lost']} "
            f"| {r['duplicates']} | {_f(r['cpu_ms_per_1k'], '{:.2f}')} "
            f"| {_ratio(r.get('cpu_x_rounds'), cpu_x)} "
            f"| {broker} | {_f(r['mem_per_conn_kib'])} | {_f(r['p50_ms'])} | {_f(r['p99_ms'])} "
            f"| {_ratio(r.get('p99_x_rounds'), p99_x)} | {_f(r['client_cpu_ms_per_1k'], '{:.2f}')} "
            f"| {r['received'] / r['deliver_s']:,.0f} "
            f"| {_f(r.get('connect_cpu_us_per_reader'), '{:.0f}')} "
            f"| {_deflate(r)} |"
        )
    extra = []
    for r in rows:
        if r.get("ok") and r.get("per_process"):
            parts = ", ".join(
                f"process {i + 1}: {p['readers']} readers, {p['cpu_ms_per_1k']:.2f} ms/1k"
                for i, p in enumerate(r["per_process"])
            )
            extra.append(f"- {r['system']} per process: {parts}")
    return "\n".join(lines + (["", *extra] if extra else []))


def page_table(page: dict[str, Any]) -> str:
    if not page:
        return ""
    if not page.get("ok"):
        return f"Page benchmark failed: {page.get('error')}"
    lines = [
        "| page (`GET /feeds/{slug}`, 500 entries) | requests/s | bytes | vs nginx static |",
        "|---|---|---|---|",
    ]
    for row in page["rows"]:
        ratio = _f(row.get("ratio"), "{:.2f}×")
        lines.append(f"| {row['name']} | {row['rps']:.0f} | {row['bytes']} | {ratio} |")
    notes = [f"- {n}" for n in page.get("notes", [])]
    return "\n".join(lines + (["", *notes] if notes else []))


def machine() -> dict[str, Any]:
    import psutil

    return {
        "cpus": os.cpu_count(),
        "cpu_model": platform.processor() or platform.machine(),
        "mem_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


async def amain(args: argparse.Namespace) -> int:
    nofile = raise_nofile(max(65536, args.readers * 2 + 1000))
    systems = args.systems.split(",") if args.systems else (SMOKE_SYSTEMS if args.smoke else NAMES)
    if args.src is not None:
        from bench.peers.livefeed import Livefeed

        Livefeed.src = args.src.resolve()
    unknown = [s for s in systems if s not in NAMES]
    if unknown:
        print(f"unknown systems: {unknown}; known: {NAMES}", file=sys.stderr)
        return 2

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    rounds: list[list[dict[str, Any]]] = []
    page: dict[str, Any] = {}
    media: dict[str, Any] = {}
    started = time.strftime("%Y%m%d-%H%M%S")
    with tempdir("livefeed-bench-") as tmp:
        for round_no in range(1, args.rounds + 1):
            one_round: list[dict[str, Any]] = []
            for name in systems:
                log(
                    f"== {name}: {args.readers} readers × {args.messages} messages"
                    f" (round {round_no}/{args.rounds})"
                )
                r = await bench_system(
                    name,
                    args.readers,
                    args.messages,
                    args.clients,
                    tmp / f"round-{round_no}",
                    log,
                    args.profile,
                    args.interval / 1000,
                )
                if r.get("ok"):
                    log(
                        f"  lost {r['lost']} dup {r['duplicates']} "
                        f"cpu {r['cpu_ms_per_1k']:.2f} ms/1k p50 {r['p50_ms']:.1f} ms "
                        f"p99 {r['p99_ms']:.1f} ms mem {r['mem_per_conn_kib']:.1f} KiB/conn"
                    )
                else:
                    log(f"  FAILED: {r['error']}\n{r.get('server_log', '')[-1500:]}")
                one_round.append(r)
            rounds.append(one_round)
        rows = combine(rounds)
        if args.page:
            from bench.page import run_page

            log("== page benchmark")
            page = await run_page(
                tmp / "page", entries=args.page_entries, duration=args.page_seconds, log=log
            )
        if args.media:
            from bench.media import run_media

            log("== media benchmark")
            media = await run_media(tmp, runs=3, log=log)

    md = "\n".join(
        [
            f"## Fan-out: {args.readers} readers × {args.messages} messages, "
            + (f"one every {args.interval:g} ms " if args.interval else "back-to-back ")
            + f"({started}, {os.cpu_count()} CPUs, {args.clients} client processes, "
            + f"{args.rounds} round{'s' if args.rounds > 1 else ''})",
            "",
            table(rows),
            ""
            if args.rounds == 1
            else f"\nEach system's median round of {args.rounds}; × nchan: the median of the "
            "per-round ratios (range); lost and dup: summed over the rounds.",
            "",
            page_table(page),
            "",
            media_table(media),
            "",
        ]
    )
    print(md)
    raw = {
        "started": started,
        "args": vars(args),
        "machine": machine(),
        "nofile": nofile,
        "systems": rows,
        "rounds": rounds,
        "page": page,
        "media": media,
    }
    write_results(Path(args.results), f"{started}{'-smoke' if args.smoke else ''}", md, raw)
    return 0 if all(r.get("ok") for r in rows) and media.get("ok", True) else 1


def write_results(results: Path, stem: str, md: str, raw: dict[str, Any]) -> None:
    """``STEM.md``/``.json`` plus ``latest[-smoke].md``/``.json`` in ``results``."""
    results.mkdir(parents=True, exist_ok=True)
    latest = "latest-smoke" if stem.endswith("-smoke") else "latest"
    for name in (stem, latest):
        (results / f"{name}.md").write_text(md)
        (results / f"{name}.json").write_text(json.dumps(raw, indent=1, default=str))


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    ap.add_argument("--systems", help=f"comma-separated subset of {','.join(NAMES)}")
    ap.add_argument("--readers", type=int, default=None)
    ap.add_argument("--messages", type=int, default=None)
    ap.add_argument("--clients", type=int, default=2, help="load-client worker processes")
    ap.add_argument(
        "--interval",
        type=float,
        default=0.0,
        help="ms between publish starts (default 0: back-to-back, each once the previous returned)",
    )
    ap.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="measure every system this many times, in turn (default 3; 1 with --smoke)",
    )
    ap.add_argument("--smoke", action="store_true", help="tiny run: 50 readers, 10 messages")
    ap.add_argument(
        "--livefeed-src",
        dest="src",
        type=Path,
        default=None,
        help="serve another checkout's app package in the livefeed systems (before/after)",
    )
    ap.add_argument("--results", default=str(RESULTS), help="where to write the results")
    ap.add_argument(
        "--profile",
        type=Path,
        help="py-spy (if installed) the servers during the publish phase; raw stacks go here",
    )
    ap.add_argument("--page", action=argparse.BooleanOptionalAction, default=None)
    ap.add_argument("--page-entries", type=int, default=500)
    ap.add_argument("--page-seconds", type=float, default=10)
    ap.add_argument(
        "--media",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="12 MP upload processing time and event sizes (default: on unless --smoke)",
    )
    a = ap.parse_args(argv)
    if a.readers is None:
        a.readers = 50 if a.smoke else 2000
    if a.messages is None:
        a.messages = 10 if a.smoke else 100
    if a.rounds is None:
        a.rounds = 1 if a.smoke else 3
    if a.rounds < 1:
        ap.error("--rounds must be at least 1")
    if a.page is None:
        a.page = not a.smoke
    if a.media is None:
        a.media = not a.smoke
    if a.profile:
        a.profile.mkdir(parents=True, exist_ok=True)
    return a


def main(argv: list[str] | None = None) -> int:
    return run_on_uvloop(amain(parse(argv)))


if __name__ == "__main__":
    sys.exit(main())
