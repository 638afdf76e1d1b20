"""python-socketio ``AsyncServer`` (ASGI under uvicorn) with ``AsyncRedisManager``.

Readers connect with Engine.IO v4 over WebSocket only; messages are emitted to the whole
namespace by an external ``AsyncRedisManager(write_only=True)`` in the benchmark process, as a
worker or another service would.
"""

from __future__ import annotations

import os

import socketio

from bench.peers.base import Peer
from bench.util import PYTHON, Proc, free_port, wait_port

_url = os.environ.get("BENCH_REDIS_URL")
if _url:
    sio = socketio.AsyncServer(
        async_mode="asgi", client_manager=socketio.AsyncRedisManager(_url), transports=["websocket"]
    )
    app = socketio.ASGIApp(sio)


class SocketIO(Peer):
    name = "socketio"
    protocol = "socketio"
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
                "bench.peers.sio_redis:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            env={"BENCH_REDIS_URL": url},
            log=self.tmp / "socketio.log",
        ).start()
        self.procs.append(p)
        await wait_port(self.port, p.popen)
        self.emitter = socketio.AsyncRedisManager(url, write_only=True)

    def targets(self) -> list[dict[str, object]]:
        path = "/socket.io/?EIO=4&transport=websocket"
        return [{"host": "127.0.0.1", "port": self.port, "path": path}]

    async def publish(self, seq: int, payload: str) -> None:
        await self.emitter.emit("msg", payload, namespace="/")
