"""What the benchmark runner needs from a system under test."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import httpx

from bench.util import Proc, RedisServer


class Peer:
    """A system under test: started, subscribed to by the load client, published to.

    ``protocol`` tells the client how to talk after the upgrade ("plain" or "socketio");
    ``ready`` says when a reader counts as subscribed: right after the 101 ("upgrade") or
    after the first frame the server sends ("frame", e.g. livefeed's hello).
    """

    name: ClassVar[str] = "?"
    protocol: ClassVar[str] = "plain"
    ready: ClassVar[str] = "upgrade"
    uses_redis: ClassVar[bool] = False

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[Proc] = []
        self.redis: RedisServer | None = None
        self.http: httpx.AsyncClient | None = None
        self.notes: list[str] = []

    async def start(self) -> None:
        raise NotImplementedError

    async def prepare(self) -> None:
        """Called once the server listens; e.g. create the feed."""

    def targets(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def publish(self, seq: int, payload: str) -> None:
        raise NotImplementedError

    def server_pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def process_pids(self) -> list[list[int]]:
        """Server pids grouped per serving process (for per-process figures)."""
        return [[p.pid] for p in self.procs]

    def broker_pids(self) -> list[int]:
        return [self.redis.proc.pid] if self.redis else []

    async def start_redis(self) -> str:
        self.redis = await RedisServer(self.tmp).start()
        return self.redis.url

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.aclose()
        for p in self.procs:
            p.stop()
        if self.redis is not None:
            self.redis.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.tail()}" for p in self.procs)


async def post_ok(client: httpx.AsyncClient, url: str, **kw: Any) -> httpx.Response:
    r = await client.post(url, **kw)
    if r.status_code >= 300:
        raise RuntimeError(f"POST {url} → {r.status_code}: {r.text[:300]}")
    return r
