"""Fan-out cost of live reader-count updates, against the cost of delivering entries, to the
same readers (default 10,000) of one ``livefeed serve`` (``livefeed-1``: SQLite, in-process
broker; ``LIVEFEED_READERS_INTERVAL_SECONDS`` = ``--interval``).

One server, the same readers connected throughout (``bench.client`` worker processes, as
``bench.run``), plus one observer connection that counts the ``readers`` events it gets:

1. **quiet** — ``--seconds`` with nothing happening: the server's idle CPU (its timers,
   the presence ticks that find nothing changed).
2. **churn** — ``--seconds`` during which one more reader joins every interval (and stays):
   the count changes at every presence tick, by one — under 1 % of 10,000, so the server
   announces it every few ticks (``app.presence.SMALL_CHANGE_INTERVALS``), not at each.
   ``--step`` readers joining per interval instead (e.g. 100 = 1 %) makes every tick announce.
   Its CPU minus the quiet CPU over the same time is the cost of the count updates (the
   joining connections' own handshakes included: an upper bound).
3. **entries** — ``--messages`` entries posted back-to-back (``POST``, SQL write, Markdown,
   fan-out), timed until every reader has every one.

Figures: CPU per count update delivered to all readers, CPU per entry delivered to all
readers, their ratio; and the count updates' CPU per second at the given interval as a
fraction of one core. Results: ``bench/results/readers-<timestamp>.md|json`` and
``readers-latest.md|json``.

    .venv/bin/python -m bench.readers                       # 10,000 readers, 1 s interval
    .venv/bin/python -m bench.readers --readers 200 --seconds 5 --messages 5   # smoke
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

from websockets.asyncio.client import ClientConnection, connect

from bench.client import Workers, marker
from bench.peers.livefeed import Livefeed
from bench.run import machine
from bench.util import cpu_seconds, raise_nofile, run_on_uvloop, tempdir

RESULTS = Path(__file__).resolve().parent / "results"


class CountedLivefeed(Livefeed):
    """``livefeed-1`` with the presence interval of the run."""

    name = "livefeed-1"
    extra_env: ClassVar[dict[str, str]] = {}


class Observer:
    """One more reader: the counts it is told, as they come."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.counts: list[int] = []
        self.changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        ws = await connect(self.url, max_size=None)
        self.task = asyncio.create_task(self._read(ws))

    async def _read(self, ws: ClientConnection) -> None:
        async with ws:
            async for message in ws:
                event = json.loads(message)
                if event.get("type") == "readers":
                    self.counts.append(int(event["count"]))
                    self.changed.set()

    async def until(self, count: int, wait_s: float) -> None:
        deadline = time.monotonic() + wait_s
        while not self.counts or self.counts[-1] != count:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), max(0.01, deadline - time.monotonic()))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task


async def churn(url: str, seconds: float, interval: float, step: int) -> int:
    """``step`` more readers join every ``interval`` for ``seconds``; the joins made."""
    joined: list[ClientConnection] = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            joined += await asyncio.gather(*(connect(url) for _ in range(step)))
            await asyncio.sleep(interval)
        return len(joined)
    finally:
        await asyncio.gather(*(ws.close() for ws in joined), return_exceptions=True)


async def measure(args: argparse.Namespace, tmp: Path, log: Any) -> dict[str, Any]:
    CountedLivefeed.extra_env = {"LIVEFEED_READERS_INTERVAL_SECONDS": str(args.interval)}
    peer = CountedLivefeed(tmp / "livefeed")
    peer.tmp.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"readers": args.readers, "interval_s": args.interval}
    workers: Workers | None = None
    observer: Observer | None = None
    try:
        await peer.start()
        await peer.prepare()
        target = peer.targets()[0]
        url = f"ws://{target['host']}:{target['port']}{target['path']}"
        cfg = {
            "targets": peer.targets(),
            "count": args.readers,
            "messages": args.messages,
            "protocol": peer.protocol,
            "ready": peer.ready,
            "deflate": True,
            "concurrency": 100,
            "connect_timeout": 60,
        }
        workers = Workers(cfg, args.clients)
        ready = await workers.start(wait_s=120 + args.readers / 50)
        connected = sum(r["connected"] for r in ready)
        out["connected"] = connected
        log(f"  {connected}/{args.readers} readers connected")
        observer = Observer(url)
        await observer.start()
        base = connected + 1
        tick_wait = args.interval * 4 + 30
        await observer.until(base, tick_wait)
        pids = peer.server_pids()

        log(f"  quiet {args.seconds:g}s")
        cpu0, t0 = cpu_seconds(pids), time.monotonic()
        await asyncio.sleep(args.seconds)
        out["quiet_cpu_s"], out["quiet_s"] = cpu_seconds(pids) - cpu0, time.monotonic() - t0

        log(f"  churn {args.seconds:g}s")
        told = len(observer.counts)
        cpu0, t0 = cpu_seconds(pids), time.monotonic()
        out["changes"] = await churn(url, args.seconds, args.interval, args.step)
        out["churn_cpu_s"], out["churn_s"] = cpu_seconds(pids) - cpu0, time.monotonic() - t0
        out["updates"] = len(observer.counts) - told
        # Every connected reader (and the observer) got each update.
        out["update_deliveries"] = out["updates"] * base

        log(f"  entries: {args.messages}")
        cpu0, t0 = cpu_seconds(pids), time.monotonic()
        for seq in range(args.messages):
            await peer.publish(seq, marker(seq, time.time_ns()) + " entry text")
        results, t_end = await workers.results_within(60 + args.readers * args.messages / 5000)
        out["entries_cpu_s"], out["entries_s"] = cpu_seconds(pids) - cpu0, t_end - t0
        out["entry_deliveries"] = sum(r["received"] for r in results)
        out["lost"] = connected * args.messages - out["entry_deliveries"]
        out["ok"] = True
    except Exception as e:
        out["ok"] = False
        out["error"] = f"{type(e).__name__}: {e}"
        with contextlib.suppress(Exception):
            out["server_log"] = peer.logs()[-4000:]
    finally:
        if observer is not None:
            await observer.stop()
        if workers is not None:
            await workers.stop()
        await peer.stop()
    if out["ok"]:
        figures(out)
    return out


def figures(out: dict[str, Any]) -> None:
    """The derived figures (see the module docstring)."""
    quiet_rate = out["quiet_cpu_s"] / out["quiet_s"]
    count_cpu = max(0.0, out["churn_cpu_s"] - quiet_rate * out["churn_s"])
    out["count_cpu_s"] = count_cpu
    out["cpu_ms_per_update"] = count_cpu * 1000 / max(out["updates"], 1)
    out["cpu_ms_per_entry"] = (
        out["entries_cpu_s"] * 1000 / max(out["entry_deliveries"], 1) * (out["connected"])
    )
    out["update_vs_entry"] = out["cpu_ms_per_update"] / out["cpu_ms_per_entry"]
    out["count_cpu_per_s"] = count_cpu / out["churn_s"]
    out["count_cpu_per_s_at_interval"] = out["cpu_ms_per_update"] / 1000 / out["interval_s"]


def report(out: dict[str, Any], argv: list[str]) -> str:
    if not out["ok"]:
        return f"# Reader-count fan-out\n\nFAILED: {out['error']}\n"
    return "\n".join(
        [
            "# Reader-count fan-out vs entry fan-out",
            "",
            f"`python -m bench.readers {' '.join(argv)}` · {out['connected']:,} readers of one "
            f"`livefeed serve` (livefeed-1) · presence interval {out['interval_s']:g} s",
            "",
            "| phase | seconds | server CPU s | what |",
            "|---|---|---|---|",
            f"| quiet | {out['quiet_s']:.1f} | {out['quiet_cpu_s']:.2f} | nothing changes |",
            f"| churn | {out['churn_s']:.1f} | {out['churn_cpu_s']:.2f} | {out['updates']} count "
            f"updates × {out['connected'] + 1:,} readers ({out['changes']} joins) |",
            f"| entries | {out['entries_s']:.1f} | {out['entries_cpu_s']:.2f} | "
            f"{out['entry_deliveries']:,} entry deliveries (lost {out['lost']}) |",
            "",
            f"- one count update to every reader: **{out['cpu_ms_per_update']:.1f} ms** CPU "
            f"(churn minus quiet, per update)",
            f"- one entry to every reader: **{out['cpu_ms_per_entry']:.1f} ms** CPU "
            f"(POST, SQL write, Markdown, fan-out)",
            f"- a count update costs **{out['update_vs_entry']:.1%}** of an entry's fan-out",
            f"- the count changing at every tick cost **{out['count_cpu_per_s']:.1%}** of one "
            f"core ({out['updates'] / out['churn_s']:.2f} updates/s); at one update per "
            f"interval it would be {out['count_cpu_per_s_at_interval']:.1%}",
            "",
        ]
    )


async def amain(args: argparse.Namespace, argv: list[str]) -> int:
    raise_nofile()

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    with tempdir("lf-readers-") as tmp:
        out = await measure(args, tmp, log)
    out["machine"] = machine()
    md = report(out, argv)
    print(md)
    write(Path(args.results), md, out)
    return 0 if out["ok"] else 1


def write(results: Path, md: str, out: dict[str, Any]) -> None:
    """``readers-<timestamp>.md|json`` and ``readers-latest.md|json`` in ``results``."""
    results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for stem in (f"readers-{stamp}", "readers-latest"):
        (results / f"{stem}.md").write_text(md)
        (results / f"{stem}.json").write_text(json.dumps(out, indent=1, default=str))


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--readers", type=int, default=10_000)
    p.add_argument("--clients", type=int, default=2, help="load-client worker processes")
    p.add_argument("--interval", type=float, default=1.0, help="presence interval, seconds")
    p.add_argument("--seconds", type=float, default=20.0, help="quiet and churn phases")
    p.add_argument("--messages", type=int, default=20, help="entries of the entry phase")
    p.add_argument("--step", type=int, default=1, help="readers joining per interval (churn)")
    p.add_argument("--results", default=str(RESULTS), help="where the results are written")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return run_on_uvloop(amain(parse(argv), argv))


if __name__ == "__main__":
    raise SystemExit(main())
