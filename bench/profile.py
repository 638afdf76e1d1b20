"""Optional py-spy sampling of the server processes during the publish phase (``--profile``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any


class Profiler:
    """``py-spy record`` attached to each pid from ``start()`` until ``stop()``."""

    def __init__(self, out_dir: Path, name: str, pids: list[int], settle_s: float = 0.5) -> None:
        self.exe = shutil.which("py-spy", path=f"{Path(sys.executable).parent}:{os.defpath}")
        self.files = [out_dir / f"{name}-{i}.txt" for i in range(len(pids))]
        self.pids = pids
        self.procs: list[asyncio.subprocess.Process] = []
        self.settle_s = settle_s  # let py-spy attach before what is measured starts

    async def start(self) -> None:
        if self.exe is None:
            return
        for pid, f in zip(self.pids, self.files, strict=True):
            p = await asyncio.create_subprocess_exec(
                self.exe, "record", "--nonblocking", "-r", "250", "-f", "raw", "-o", str(f),
                "-p", str(pid),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            self.procs.append(p)
        await asyncio.sleep(self.settle_s)

    async def stop(self) -> list[dict[str, Any]]:
        for p in self.procs:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGINT)
        for p in self.procs:
            try:
                await asyncio.wait_for(p.wait(), 20)
            except TimeoutError:
                p.kill()
                await p.wait()
        return [summarize(f) for f in self.files if f.exists()]


def summarize(path: Path, top: int = 25) -> dict[str, Any]:
    """Top frames by own samples and by inclusive samples, from py-spy's raw output."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        k = int(n)
        total += k
        frames = stack.split(";")
        own[frames[-1]] += k
        for f in set(frames):
            incl[f] += k
    return {
        "file": str(path),
        "samples": total,
        "own": [(f, round(n / total, 3)) for f, n in own.most_common(top)] if total else [],
        "inclusive": [(f, round(n / total, 3)) for f, n in incl.most_common(top * 2)]
        if total
        else [],
    }
