"""livefeed itself, driven only through its public contract (the README).

``livefeed-1``: one ``livefeed serve`` process, SQLite, in-process broker.
``livefeed-2``: two ``livefeed serve`` processes on two ports sharing one redis-server
(``LIVEFEED_REDIS_URL``) and one SQLite file; readers alternate between them and entries are
posted to the first, so the second only learns of them through Redis.
``livefeed-*-asgi``: the same with ``LIVEFEED_WS_ENGINE=asgi`` (WebSockets through uvicorn +
Starlette instead of the default raw-protocol engine), for comparison.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import httpx

from bench.peers.base import Peer, post_ok
from bench.util import PYTHON, Proc, free_port

TOKEN = "bench-admin-token"
SLUG = "bench"


def livefeed_argv() -> list[str]:
    script = Path(sys.executable).parent / "livefeed"
    if script.exists():
        return [str(script)]
    return [PYTHON, "-c", "from app.cli import main; main()"]


async def wait_healthy(client: httpx.AsyncClient, proc: Proc, wait_s: float = 60) -> None:
    deadline = time.monotonic() + wait_s
    last = ""
    while time.monotonic() < deadline:
        if proc.popen is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"livefeed exited with {proc.popen.returncode}:\n{proc.tail()}")
        try:
            r = await client.get("/healthz")
            if r.status_code == 200:
                return
            last = f"{r.status_code}"
        except httpx.HTTPError as e:
            last = repr(e)
        await asyncio.sleep(0.1)
    raise TimeoutError(f"livefeed not healthy after {wait_s}s ({last}):\n{proc.tail()}")


class Livefeed(Peer):
    name = "livefeed-1"
    ready = "frame"  # the hello frame: subscribed
    processes: ClassVar[int] = 1
    extra_env: ClassVar[dict[str, str]] = {}
    #: Serve this checkout's ``app`` package instead of the installed one (before/after
    #: runs of the same bench: ``python -m bench.run --livefeed-src DIR``).
    src: ClassVar[Path | None] = None

    def env(self) -> dict[str, str]:
        env = {
            "LIVEFEED_ADMIN_TOKEN": TOKEN,
            "LIVEFEED_DATABASE_URL": f"sqlite+aiosqlite:///{self.tmp}/bench.db",
            # Every bench reader comes from 127.0.0.1: no per-address cap.
            "LIVEFEED_MAX_CONNECTIONS_PER_IP": "0",
            **self.extra_env,
        }
        if self.redis is not None:
            env["LIVEFEED_REDIS_URL"] = self.redis.url
        if self.src is not None:
            env["PYTHONPATH"] = str(self.src)
        return env

    async def start(self) -> None:
        if self.processes > 1:
            await self.start_redis()
        env = self.env()
        mig = await asyncio.create_subprocess_exec(
            *livefeed_argv(),
            "migrate",
            env={**os.environ, **env},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            cwd=self.tmp,
        )
        if await mig.wait() != 0:
            self.notes.append(f"`livefeed migrate` failed ({mig.returncode})")
        self.ports = [free_port() for _ in range(self.processes)]
        self.clients: list[httpx.AsyncClient] = []
        for i, port in enumerate(self.ports):
            p = Proc(
                f"livefeed-{i}",
                [*livefeed_argv(), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env={**env, "LIVEFEED_PUBLIC_URL": f"http://127.0.0.1:{port}"},
                cwd=self.tmp,
                log=self.tmp / f"livefeed-{i}.log",
            ).start()
            self.procs.append(p)
            c = httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=60,
            )
            self.clients.append(c)
            await wait_healthy(c, p)
        self.http = self.clients[0]

    async def prepare(self) -> None:
        await create_feed(self.clients[0], SLUG, "Benchmark")

    def targets(self) -> list[dict[str, Any]]:
        return [{"host": "127.0.0.1", "port": p, "path": f"/ws/feeds/{SLUG}"} for p in self.ports]

    async def publish(self, seq: int, payload: str) -> None:
        await post_ok(self.clients[0], f"/api/feeds/{SLUG}/entries", json={"body": payload})

    async def stop(self) -> None:
        for c in self.clients[1:]:
            await c.aclose()
        await super().stop()


class LivefeedMedia(Livefeed):
    """``livefeed-1-media``: the same fan-out, every entry carrying two uploaded photos (the
    event frame holds their URLs and ``<figure>`` markup, never image bytes)."""

    name = "livefeed-1-media"

    async def prepare(self) -> None:
        from tests.media_support import photo

        await create_feed(self.clients[0], SLUG, "Benchmark")
        self.media_ids: list[int] = []
        for seed in (1, 2):
            r = await self.clients[0].post(
                f"/api/feeds/{SLUG}/media",
                files={"file": (f"p{seed}.jpg", photo(1600, 1067, seed), "image/jpeg")},
                data={"alt": f"Photo {seed}", "caption": "At the scene", "credit": "Bench"},
            )
            if r.status_code != 201:
                raise RuntimeError(f"upload → {r.status_code}: {r.text[:300]}")
            self.media_ids.append(r.json()["id"])

    async def publish(self, seq: int, payload: str) -> None:
        await post_ok(
            self.clients[0],
            f"/api/feeds/{SLUG}/entries",
            json={"body": payload, "media": self.media_ids},
        )


class Livefeed2(Livefeed):
    name = "livefeed-2"
    processes = 2
    uses_redis = True


class LivefeedAsgi(Livefeed):
    name = "livefeed-1-asgi"
    extra_env: ClassVar[dict[str, str]] = {"LIVEFEED_WS_ENGINE": "asgi"}


class Livefeed2Asgi(Livefeed2):
    name = "livefeed-2-asgi"
    extra_env: ClassVar[dict[str, str]] = {"LIVEFEED_WS_ENGINE": "asgi"}


async def create_feed(client: httpx.AsyncClient, slug: str, title: str) -> None:
    r = await client.post("/api/feeds", json={"slug": slug, "title": title})
    if r.status_code == 409:
        return
    if r.status_code >= 300:
        raise RuntimeError(f"POST /api/feeds → {r.status_code}: {r.text[:300]}")


__all__ = [
    "Livefeed",
    "Livefeed2",
    "Livefeed2Asgi",
    "LivefeedAsgi",
    "LivefeedMedia",
    "create_feed",
    "post_ok",
]
