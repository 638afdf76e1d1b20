"""The floor: a bare uvloop server that frames each message once and writes it to every socket.

Raw asyncio Protocol, minimal HTTP/1.1: ``GET`` with ``Upgrade: websocket`` becomes a reader
(no extensions negotiated, so no deflate); ``POST /publish`` (keep-alive) frames its body
once as a text frame and ``transport.write``s it to every reader, then answers 204.

Run: ``python -m bench.peers.floor --port P``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib

import httpx

from bench.peers.base import Peer, post_ok
from bench.util import PYTHON, Proc, free_port, wait_port

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
readers: set[asyncio.Transport] = set()


def frame(payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


class Conn(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.reader = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.reader:
            readers.discard(self.transport)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        if self.reader:
            # Readers send nothing but close/pong frames; a close ends the connection.
            if data and data[0] & 0x0F == 8:
                self.transport.close()  # type: ignore[union-attr]
            return
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].decode("latin-1")
            lines = head.split("\r\n")
            headers = {}
            for h in lines[1:]:
                k, _, v = h.partition(":")
                headers[k.strip().lower()] = v.strip()
            method, path = lines[0].split(" ")[:2]
            if method == "GET" and headers.get("upgrade", "").lower() == "websocket":
                key = headers["sec-websocket-key"].encode()
                accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
                self.buf = b""
                self.reader = True
                readers.add(self.transport)  # type: ignore[arg-type]
                self.transport.write(  # type: ignore[union-attr]
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
                )
                return
            length = int(headers.get("content-length", "0"))
            if len(self.buf) < end + 4 + length:
                return
            body = self.buf[end + 4 : end + 4 + length]
            self.buf = self.buf[end + 4 + length :]
            if method == "POST" and path == "/publish":
                f = frame(body)
                for t in readers:
                    t.write(f)
                self.transport.write(b"HTTP/1.1 204 No Content\r\n\r\n")  # type: ignore[union-attr]
            else:
                self.transport.write(  # type: ignore[union-attr]
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
                )


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Conn, host, port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    import uvloop

    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    uvloop.run(serve(a.host, a.port))


class Floor(Peer):
    name = "floor"

    async def start(self) -> None:
        self.port = free_port()
        p = Proc(
            "floor",
            [PYTHON, "-m", "bench.peers.floor", "--port", str(self.port)],
            log=self.tmp / "floor.log",
        ).start()
        self.procs.append(p)
        await wait_port(self.port, p.popen)
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}")

    def targets(self) -> list[dict[str, object]]:
        return [{"host": "127.0.0.1", "port": self.port, "path": "/ws"}]

    async def publish(self, seq: int, payload: str) -> None:
        assert self.http is not None
        await post_ok(self.http, "/publish", content=payload.encode())


if __name__ == "__main__":
    main()
