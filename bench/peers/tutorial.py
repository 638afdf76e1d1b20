"""FastAPI's documented ``ConnectionManager`` pattern under ``uvicorn`` defaults.

https://fastapi.tiangolo.com/advanced/websockets/#handling-disconnections-and-multiple-clients
— a list of websockets and ``await ws.send_text`` for each in turn. Published via
``POST /publish``.
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect

from bench.peers.base import Peer, post_ok
from bench.util import PYTHON, Proc, free_port, wait_port


class ConnectionManager:
    def __init__(self) -> None:
        self.active_connections: list[WebSocket] = []

    async def connect(self, websocket: WebSocket) -> None:
        await websocket.accept()
        self.active_connections.append(websocket)

    def disconnect(self, websocket: WebSocket) -> None:
        self.active_connections.remove(websocket)

    async def broadcast(self, message: str) -> None:
        for connection in self.active_connections:
            await connection.send_text(message)


app = FastAPI()
manager = ConnectionManager()


@app.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    await manager.connect(websocket)
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        manager.disconnect(websocket)


@app.post("/publish")
async def publish(request: Request) -> dict[str, int]:
    await manager.broadcast((await request.body()).decode())
    return {"readers": len(manager.active_connections)}


class Tutorial(Peer):
    name = "fastapi-tutorial"

    async def start(self) -> None:
        self.port = free_port()
        p = Proc(
            "uvicorn",
            [
                PYTHON,
                "-m",
                "uvicorn",
                "bench.peers.tutorial:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            log=self.tmp / "tutorial.log",
        ).start()
        self.procs.append(p)
        await wait_port(self.port, p.popen)
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=120)

    def targets(self) -> list[dict[str, object]]:
        return [{"host": "127.0.0.1", "port": self.port, "path": "/ws"}]

    async def publish(self, seq: int, payload: str) -> None:
        assert self.http is not None
        await post_ok(self.http, "/publish", content=payload.encode())
