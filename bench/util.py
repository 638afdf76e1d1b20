"""Process, port and resource helpers shared by the benchmark drivers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def raise_nofile(target: int = 65536) -> int:
    """Raise RLIMIT_NOFILE for this process (children inherit it); return the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(target, soft)
    for new_hard in (max(hard, want), hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, new_hard), new_hard))
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_port(
    port: int, proc: subprocess.Popen[bytes] | None = None, wait_s: float = 30
) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {wait_s}s")


def tree(pids: Iterable[int]) -> list[psutil.Process]:
    procs: dict[int, psutil.Process] = {}
    for pid in pids:
        try:
            p = psutil.Process(pid)
        except psutil.NoSuchProcess:
            continue
        procs[p.pid] = p
        with contextlib.suppress(psutil.Error):
            for c in p.children(recursive=True):
                procs[c.pid] = c
    return list(procs.values())


def cpu_seconds(pids: Iterable[int]) -> float:
    """user+sys CPU of the process trees rooted at pids (live processes only)."""
    total = 0.0
    for p in tree(pids):
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def rss_bytes(pids: Iterable[int]) -> int:
    total = 0
    for p in tree(pids):
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


@dataclass
class Proc:
    """A server subprocess in its own session, stopped with SIGTERM then SIGKILL."""

    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    cwd: Path = REPO
    log: Path | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> Proc:
        full_env = dict(os.environ)
        if self.env:
            full_env.update(self.env)
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.popen = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if self.log:
            out.close()  # type: ignore[union-attr]
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def stop(self, timeout: float = 10) -> None:
        p = self.popen
        if p is None or p.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)

    def tail(self, n: int = 30) -> str:
        if not self.log or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


class RedisServer:
    """A throwaway redis-server on a free port (no persistence)."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server not found (make services)")
        self.proc = Proc(
            "redis",
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp),
                "--maxclients",
                "10000",
            ],
            log=tmp / "redis.log",
        )

    async def start(self) -> RedisServer:
        self.proc.start()
        await wait_port(self.port, self.proc.popen)
        return self

    def stop(self) -> None:
        self.proc.stop()


@contextlib.contextmanager
def tempdir(prefix: str) -> Iterator[Path]:
    d = tempfile.mkdtemp(prefix=prefix)
    try:
        yield Path(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def percentile(sorted_values: list[int] | memoryview, q: float) -> float:
    n = len(sorted_values)
    if n == 0:
        return float("nan")
    k = min(n - 1, max(0, round(q * (n - 1))))
    return float(sorted_values[k])


def run_on_uvloop(main: Coroutine[Any, Any, int]) -> int:
    """Run a benchmark's entry coroutine on uvloop (as the servers under test run), or on
    asyncio's own loop where uvloop is not installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
