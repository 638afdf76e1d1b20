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

import base64
import http.client
import json
import os
import resource
import select
import signal
import socket
import time
from collections.abc import Callable

from tests.support.services import LivefeedServer

#: Within uvicorn's listen backlog (2,048), so that every reader waits in the queue.
READERS = 1500
WAIT = 60.0


def _handshake(app: LivefeedServer, slug: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET /ws/feeds/{slug}?since=0 HTTP/1.1\r\n"
        f"Host: {app.host}:{app.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


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


def test_an_api_call_is_served_ahead_of_queued_reader_handshakes(
    livefeed_factory: Callable[..., LivefeedServer],
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4 * READERS:  # this process and the server (which inherits it) hold them all
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * READERS), hard))
    app = livefeed_factory(
        {"LIVEFEED_MAX_CONNECTIONS_PER_IP": "0", "LIVEFEED_MAX_HTTP_CONNECTIONS_PER_IP": "0"}
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
            sock.sendall(_handshake(app, "storm"))
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
