"""FastAPI + ``broadcaster`` over Redis pub/sub, after broadcaster's chat example.

The app holds one subscription of its own (working around two start-up races, see
``lifespan``); each reader's endpoint subscribes to the channel, sends ``ready``, then
forwards every event with ``send_text``; a receiver task notices disconnects. Messages are
published to the Redis channel from the benchmark process (what another process's
``broadcast.publish`` does).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import redis.asyncio as aioredis
from broadcaster import Broadcast
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from bench.peers.base import Peer
from bench.util import PYTHON, Proc, free_port, wait_port

CHANNEL = "bench"
broadcast = Broadcast(os.environ.get("BENCH_REDIS_URL", "memory://"))


seen = 0


async def _hold(subscribed: asyncio.Event) -> None:
    global seen
    async with broadcast.subscribe(channel=CHANNEL) as subscriber:
        subscribed.set()
        async for _ in subscriber:  # type: ignore[union-attr]
            seen += 1


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    # Two races in broadcaster 0.3.1 + redis-py (see the Broadcaster driver): subscribers
    # joining while the channel's first SUBSCRIBE is in flight are dropped, and the Redis
    # listener task gives up if it wakes before that SUBSCRIBE completes. So the app holds
    # one subscription of its own from startup and wakes the listener once it is in place.
    await broadcast.connect()
    subscribed = asyncio.Event()
    holder = asyncio.create_task(_hold(subscribed))
    await subscribed.wait()
    await broadcast._backend.subscribe(CHANNEL)
    yield
    holder.cancel()
    await broadcast.disconnect()


app = FastAPI(lifespan=lifespan)


@app.get("/seen")
async def get_seen() -> int:
    return seen


@app.websocket("/ws")
async def ws(websocket: WebSocket) -> None:
    await websocket.accept()

    async def receiver(tg: anyio.abc.TaskGroup) -> None:
        try:
            async for _ in websocket.iter_text():
                pass
        except WebSocketDisconnect:
            pass
        tg.cancel_scope.cancel()

    async def sender() -> None:
        async with broadcast.subscribe(channel=CHANNEL) as subscriber:
            await websocket.send_text("ready")
            async for event in subscriber:  # type: ignore[union-attr]
                await websocket.send_text(event.message)

    async with anyio.create_task_group() as tg:
        tg.start_soon(receiver, tg)
        tg.start_soon(sender)


class Broadcaster(Peer):
    name = "broadcaster"
    ready = "frame"
    uses_redis = True

    async def start(self) -> None:
        url = await self.start_redis()
        self.port = free_port()
        p = Proc(
            "uvicorn",
            [
                PYTHON,
                "-m",
                "uvicorn",
                "bench.peers.broadcaster_redis:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            env={"BENCH_REDIS_URL": url},
            log=self.tmp / "broadcaster.log",
        ).start()
        self.procs.append(p)
        await wait_port(self.port, p.popen)
        self.pub = aioredis.Redis.from_url(url)

    async def prepare(self) -> None:
        # Wait until a message published to Redis reaches the app (see lifespan).
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}") as c:
            for _ in range(100):
                await self.pub.publish(CHANNEL, "probe")
                await asyncio.sleep(0.05)
                if (await c.get("/seen")).json() > 0:
                    return
        raise RuntimeError("broadcaster never received a message published to Redis")

    def targets(self) -> list[dict[str, object]]:
        return [{"host": "127.0.0.1", "port": self.port, "path": "/ws"}]

    async def publish(self, seq: int, payload: str) -> None:
        await self.pub.publish(CHANNEL, payload)

    async def stop(self) -> None:
        await self.pub.aclose()
        await super().stop()
