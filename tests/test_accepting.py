"""The accept burst (app/accepting.py): an API call is served ahead of a queue of readers'
WebSocket handshakes, and every queued handshake is still answered, in full.

The queue is built deterministically: the server process is stopped (SIGSTOP) while the
readers connect and send their handshakes and then the reporter's POST is sent, so the
kernel's accept queue holds the handshakes first and the POST last; then the server
continues. No timing is asserted: only how many handshakes were answered before the POST.
Without the burst, uvloop takes one connection per loop turn in queue order and serves
each handshake before the next accept, so all of them were answered before the POST (seen:
1,500 of 1,500); with it, a few hundred (those served while the POST waits on its
database thread).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import resource
import select
import signal
import socket
import time
from collections.abc import Callable
from typing import ClassVar

import pytest

from app import accepting
from tests.support.services import LivefeedServer
from tests.ws_support import handshake_request

#: Within uvicorn's listen backlog (2,048), so that every reader waits in the queue.
READERS = 1500
WAIT = 60.0


def _post(app: LivefeedServer, slug: str, body: str) -> bytes:
    payload = json.dumps({"body": body}).encode()
    return (
        f"POST /api/feeds/{slug}/entries HTTP/1.1\r\n"
        f"Host: {app.host}:{app.port}\r\n"
        f"Authorization: Bearer {app.admin_token}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    ).encode() + payload


def _answered(socks: list[socket.socket]) -> int:
    """How many of ``socks`` have bytes to read (their handshake was answered)."""
    poller = select.poll()
    for sock in socks:
        poller.register(sock, select.POLLIN)
    return len(poller.poll(0))


def _read_head(sock: socket.socket) -> bytes:
    sock.settimeout(WAIT)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return head


@pytest.mark.parametrize("engine", ["native", "asgi"])
def test_an_api_call_is_served_ahead_of_queued_reader_handshakes(
    livefeed_factory: Callable[..., LivefeedServer], engine: str
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4 * READERS:  # this process and the server (which inherits it) hold them all
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * READERS), hard))
    app = livefeed_factory(
        {
            "LIVEFEED_MAX_CONNECTIONS_PER_IP": "0",
            "LIVEFEED_MAX_HTTP_CONNECTIONS_PER_IP": "0",
            "LIVEFEED_WS_ENGINE": engine,
        }
    )
    client = http.client.HTTPConnection(app.host, app.port, timeout=WAIT)
    client.request(
        "POST",
        "/api/feeds",
        json.dumps({"slug": "storm", "title": "Storm"}),
        {"Authorization": f"Bearer {app.admin_token}", "Content-Type": "application/json"},
    )
    assert client.getresponse().status == 201
    client.close()
    assert app.pid is not None

    readers: list[socket.socket] = []
    os.kill(app.pid, signal.SIGSTOP)
    try:
        for _ in range(READERS):
            sock = socket.create_connection((app.host, app.port), timeout=WAIT)
            sock.sendall(handshake_request(app.host, app.port, "/ws/feeds/storm?since=0"))
            readers.append(sock)
        reporter = socket.create_connection((app.host, app.port), timeout=WAIT)
        reporter.sendall(_post(app, "storm", "served first"))
    finally:
        os.kill(app.pid, signal.SIGCONT)
    try:
        response = b""
        while True:
            chunk = reporter.recv(65536)
            if not chunk:
                break
            response += chunk
        answered_first = _answered(readers)
        assert response.startswith(b"HTTP/1.1 201"), response[:300]

        # The POST went ahead of most of the handshakes queued before it (without the burst
        # every one of them was answered first).
        assert answered_first < READERS // 2, f"{answered_first} of {READERS} answered first"

        # ...and every queued reader is still upgraded and gets its hello.
        deadline = time.monotonic() + WAIT
        for sock in readers:
            head = _read_head(sock)
            assert head.startswith(b"HTTP/1.1 101"), head[:200]
            assert time.monotonic() < deadline
    finally:
        reporter.close()
        for sock in readers:
            sock.close()
    assert "Traceback" not in app.log_text()


class _Served(asyncio.Protocol):
    """Stands in for uvicorn's protocol class: built the way the burst builds siblings;
    records the first bytes each connection it serves receives."""

    firsts: ClassVar[list[bytes]] = []

    def __init__(
        self,
        config: object = None,
        server_state: object = None,
        app_state: dict[str, object] | None = None,
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.config, self.server_state = config, server_state
        self.app_state = app_state or {}
        self.loop = _loop or asyncio.get_event_loop()

    def data_received(self, data: bytes) -> None:
        _Served.firsts.append(data[:8])


async def _turns(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0.01)


async def test_the_burst_serves_other_requests_first_within_the_room_it_is_given() -> None:
    """In-process, on a real listening socket, no server: 20 stream requests then 2 POSTs
    wait in the kernel's queue. Given room for 8 beyond its margin, the burst takes the
    first 8 stream requests and leaves the rest in the kernel's queue. Given room again, it
    takes the rest: the POSTs, queued behind 12 streams, are among the first 4 served (with
    the 2 streams handed on in the same turn). close() closes what still waits."""
    loop = asyncio.get_running_loop()
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(22)]
    for i, client in enumerate(clients):
        client.sendall(
            b"GET /ws/feeds/x HTTP/1.1\r\n\r\n" if i < 20 else b"POST /api HTTP/1.1\r\n\r\n"
        )
    await asyncio.sleep(0.2)  # the bytes are there when the burst peeks at them
    burst = accepting.AcceptBurst([listener])
    seed = _Served(_loop=loop)
    _Served.firsts.clear()
    try:
        burst.after_accept(seed, room=accepting.MARGIN + 8)
        await _turns(20)
        assert _Served.firsts == [b"GET /ws/"] * 8  # the room's worth, all handed on by now
        assert burst.waiting == 0

        _Served.firsts.clear()
        burst.after_accept(seed, room=accepting.MARGIN + 100)
        await _turns(20)
        assert sorted(_Served.firsts) == [b"GET /ws/"] * 12 + [b"POST /ap"] * 2
        assert _Served.firsts[:4].count(b"POST /ap") == 2, _Served.firsts
    finally:
        burst.close()
        listener.close()
        for client in clients:
            client.close()
