"""CPU per published entry: what one reporter's ``POST …/entries`` costs a ``livefeed serve``
(SQLite, in-process broker, no reader connected), alternating checkouts for a before/after.

``--posts`` entries (default 800) are posted one after the other, each as soon as the
previous one was answered, after 20 warm-up posts; the figure is the server process's CPU
(user and system, threads included) over those posts, divided by their number, with the
wall time per post. With ``--livefeed-src DIR`` (repeatable) each checkout's ``app`` is
served in turn, ``--runs`` times, alternating, so a drift of the machine hits them alike.
The body is the fan-out benchmark's (``bench.run.payload``: a marker and two sentences).

    .venv/bin/python -m bench.post_cost                                   # this checkout
    .venv/bin/python -m bench.post_cost --livefeed-src /tmp/before --livefeed-src . --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import httpx
import psutil

from bench.run import payload
from bench.storm import _launcher
from bench.util import tempdir
from tests.support.services import LivefeedServer

TOKEN = "bench-post-cost-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SLUG = "bench"


async def measure(src: Path | None, posts: int) -> tuple[float, float]:
    """(CPU ms, wall ms) per POST on a fresh server serving ``src`` (None: this checkout)."""
    with tempdir("livefeed-post-cost-") as tmp:
        env = {"LIVEFEED_ADMIN_TOKEN": TOKEN, "LIVEFEED_LOG_LEVEL": "warning"}
        with LivefeedServer(env, executable=_launcher(Path(tmp), src)) as server:
            assert server.pid is not None
            process = psutil.Process(server.pid)
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
                created = await http.post(
                    "/api/feeds", json={"slug": SLUG, "title": "Post cost"}, headers=AUTH
                )
                created.raise_for_status()

                async def post(seq: int) -> None:
                    answer = await http.post(
                        f"/api/feeds/{SLUG}/entries",
                        json={"body": payload("livefeed", seq)},
                        headers=AUTH,
                    )
                    answer.raise_for_status()

                for seq in range(20):
                    await post(seq)
                before = process.cpu_times()
                t0 = time.monotonic()
                for seq in range(20, 20 + posts):
                    await post(seq)
                wall = time.monotonic() - t0
                after = process.cpu_times()
    cpu = (after.user - before.user) + (after.system - before.system)
    return 1000 * cpu / posts, 1000 * wall / posts


async def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--posts", type=int, default=800)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--livefeed-src", dest="srcs", type=Path, action="append", default=None)
    a = ap.parse_args(argv)
    srcs: list[Path | None] = list(a.srcs) if a.srcs else [None]
    for run in range(a.runs):
        for src in srcs:
            cpu, wall = await measure(src.resolve() if src else None, a.posts)
            name = str(src) if src else "this checkout"
            print(
                f"run {run + 1} {name}: CPU per POST {cpu:.2f} ms, wall {wall:.2f} ms",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
