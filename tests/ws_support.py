"""A raw WebSocket client for conformance tests: every byte hand-built, every byte read back.

Nothing here is forgiving: frames are built exactly as given (bad masks, reserved bits,
oversized control frames...), and what the server sends is parsed strictly, so a test sees
precisely what a browser would.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import socket
import struct
from dataclasses import dataclass

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def build_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool = True,
) -> bytes:
    """One client frame. ``rsv`` is the 3 reserved bits (0-7)."""
    first = (0x80 if fin else 0) | (rsv & 7) << 4 | opcode
    length = len(payload)
    mask_bit = 0x80 if mask else 0
    if length < 126:
        head = struct.pack("!BB", first, mask_bit | length)
    elif length < 65536:
        head = struct.pack("!BBH", first, mask_bit | 126, length)
    else:
        head = struct.pack("!BBQ", first, mask_bit | 127, length)
    if not mask:
        return head + payload
    key = os.urandom(4)
    repeated = (key * (length // 4 + 1))[:length]
    masked = bytes(a ^ b for a, b in zip(payload, repeated, strict=True))
    return head + key + masked


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


@dataclass
class ServerFrame:
    fin: bool
    rsv: int
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        assert self.opcode == OP_CLOSE
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    @property
    def close_reason(self) -> str:
        return self.payload[2:].decode()  # raises if not UTF-8, as a browser would fail


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, list[str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None


def handshake_request(
    host: str,
    port: int,
    path: str,
    *,
    key: str | None = KEY,
    version: str | None = "13",
    extra: list[tuple[str, str]] | None = None,
    method: str = "GET",
) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
    ]
    if key is not None:
        lines.append(f"Sec-WebSocket-Key: {key}")
    if version is not None:
        lines.append(f"Sec-WebSocket-Version: {version}")
    lines += [f"{name}: {value}" for name, value in extra or []]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _is_reader_count(frame: ServerFrame) -> bool:
    """True for a whole text frame holding a live reader count event (checked strictly)."""
    if frame.opcode != OP_TEXT or not frame.fin:
        return False
    try:
        event = json.loads(frame.payload)
    except ValueError:
        return False
    if not isinstance(event, dict) or event.get("type") != "readers":
        return False
    assert set(event) == {"type", "count"} and isinstance(event["count"], int), event
    assert event["count"] >= 0, event
    return True


class RawClient:
    """One TCP connection to the server; reads are strict and time-bounded."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float = 15.0,
        rcvbuf: int = 0,
        source: str | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if source is not None:  # another loopback address (127.0.0.2…): another client
            self.sock.bind((source, 0))
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.buffer = bytearray()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- bytes ------------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buffer += chunk
        return True

    def _take(self, n: int) -> bytes:
        while len(self.buffer) < n:
            if not self._fill():
                raise EOFError(f"connection closed with {len(self.buffer)} of {n} bytes")
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    def at_eof(self) -> bool:
        """True once the server closed the connection (after everything it sent was read)."""
        if self.buffer:
            return False
        try:
            return not self._fill()
        except ConnectionResetError:
            return True

    # -- HTTP -------------------------------------------------------------------------------

    def read_response(self) -> HttpResponse:
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise EOFError(f"connection closed during the response: {bytes(self.buffer)!r}")
        end = self.buffer.index(b"\r\n\r\n")
        head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        del self.buffer[: end + 4]
        status = int(head[0].split(" ")[1])
        headers: dict[str, list[str]] = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        body = b""
        length = int(headers.get("content-length", ["0"])[0])
        if status != 101 and length:
            body = self._take(length)
        return HttpResponse(status, headers, body)

    def handshake(self, path: str = "/ws/feeds/demo", **kwargs: object) -> HttpResponse:
        self.send(handshake_request(self.host, self.port, path, **kwargs))  # type: ignore[arg-type]
        return self.read_response()

    def open(self, path: str = "/ws/feeds/demo") -> list[ServerFrame]:
        """A successful handshake, then read up to and including the hello event."""
        response = self.handshake(path)
        assert response.status == 101, response
        expected = base64.b64encode(hashlib.sha1(KEY.encode() + GUID).digest()).decode()
        assert response.header("sec-websocket-accept") == expected
        first = self.read_frame()
        assert first.opcode == OP_TEXT and b'"hello"' in first.payload, first
        return [first]

    # -- frames -----------------------------------------------------------------------------

    def send_frame(self, opcode: int, payload: bytes = b"", **kwargs: object) -> None:
        self.send(build_frame(opcode, payload, **kwargs))  # type: ignore[arg-type]

    def read_frame(self) -> ServerFrame:
        """The next frame, passing over live reader counts.

        A ``{"type": "readers", "count": n}`` event (no rev) may come at any moment, whenever
        the feed's count changes (every ``readers_interval_seconds``): it is not an answer to
        anything the test sent, so strict reads skip it, after checking its shape."""
        while True:
            frame = self.read_raw_frame()
            if not _is_reader_count(frame):
                return frame

    def read_raw_frame(self) -> ServerFrame:
        """The next frame as sent, whatever it is."""
        first, second = self._take(2)
        assert not second & 0x80, "server frames must not be masked"
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._take(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._take(8))[0]
        return ServerFrame(bool(first & 0x80), first >> 4 & 7, first & 0x0F, self._take(length))

    def read_until_close(self) -> tuple[ServerFrame, list[ServerFrame]]:
        """Read frames up to the server's close frame; return it and what came before.

        Fails if anything follows the close frame (the server must then only close TCP)."""
        before: list[ServerFrame] = []
        while True:
            frame = self.read_frame()
            if frame.opcode == OP_CLOSE:
                break
            before.append(frame)
        assert len(frame.payload) <= 125, "control frame over 125 bytes"
        return frame, before

    def expect_close(self, code: int, *, reply: bool = True) -> ServerFrame:
        """The server closes with ``code``, nothing after its close frame, then TCP closes."""
        frame, _ = self.read_until_close()
        assert frame.close_code == code, (frame.close_code, frame.payload)
        frame.close_reason  # noqa: B018 — must decode as UTF-8
        if reply:
            # The server may already have closed TCP (it fails the connection at once).
            with contextlib.suppress(OSError):
                self.send_frame(OP_CLOSE, close_payload(code if code < 5000 else 1000))
        assert self.at_eof(), f"data after the close frame: {bytes(self.buffer)!r}"
        return frame

    def still_open(self) -> bool:
        """Ping with a fresh payload; the connection is open if its pong comes back."""
        token = os.urandom(8)
        self.send_frame(OP_PING, token)
        while True:
            frame = self.read_frame()
            if frame.opcode == OP_CLOSE:
                return False
            if frame.opcode == OP_PONG and frame.payload == token:
                return True
