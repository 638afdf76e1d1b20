"""The WebSocket fast path: ``/ws/feeds/{slug}`` served by a plain asyncio Protocol.

uvicorn hands every WebSocket upgrade to the protocol class named in its ``ws`` setting
(see :mod:`app.server`). :class:`FeedSocketProtocol` takes the ones for
``/ws/feeds/{slug}`` and serves them without ASGI; any other WebSocket path is passed on,
untouched, to uvicorn's own sans-I/O implementation (and so to the ASGI app).

Why: a reader costs what its socket costs. There is no task, queue or timer per connection
— the connection is an object with ``__slots__`` that the hub calls back. Each event's
frame is built once per process (:attr:`app.hub.Event.ws_frame`) and written with one
``transport.write`` per reader. Opening a stream runs one short task (feed lookup, hub
attach, catch-up read); after that everything is callbacks. Keepalive pings for all
connections come from one sweep loop per process, not a timer each.

The stream itself (admission, attach, catch-up, held events, the send bound, flood
limit, teardown, metrics) is a :class:`app.live.session.StreamSession`, as for the ASGI
endpoint in :mod:`app.live.ws` and for SSE; this protocol is its :class:`Sink`: ``push``
is one ``transport.write`` of the pre-framed event and returns what the kernel has not
taken yet (``transport.get_write_buffer_size()``), which the session bounds by
``send_buffer_bytes`` (past it: 4008). permessage-deflate is declined: events are small
and compressing per reader costs more CPU than it saves.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import ipaddress
import logging
import re
import struct
from collections.abc import Sequence
from typing import Any, ClassVar, cast
from urllib.parse import parse_qs, unquote

from starlette.requests import HTTPConnection

from app.hub import Event
from app.live.close_codes import CLOSE_PROTOCOL_ERROR, CLOSE_TOO_BIG, SERVICE_RESTART
from app.live.frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    close_frame,
    frame,
)
from app.live.session import StreamSession, app_session
from app.metrics import Metrics
from app.state import AppState

log = logging.getLogger(__name__)

FEED_PATH = re.compile(r"^/ws/feeds/([^/?#]+)$")
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HANDSHAKE = 16 * 1024


def _accept_key(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


class FeedSocketProtocol(asyncio.Protocol):
    """Serves ``/ws/feeds/{slug}``; hands any other WebSocket path to uvicorn's protocol."""

    __slots__ = (
        "_app_state",
        "_buffer",
        "_closing",
        "_config",
        "_idle_sweeps",
        "_metrics",
        "_server_state",
        "_upgraded",
        "session",
        "state",
        "transport",
    )

    #: Every open native connection of this process, for the keepalive sweep.
    open_connections: ClassVar[set[FeedSocketProtocol]] = set()
    _sweeper: ClassVar[asyncio.Task[None] | None] = None

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any]) -> None:
        self._config = config
        self._server_state = server_state
        self._app_state = app_state
        self.state: AppState | None = app_state.get("livefeed")
        self._metrics: Metrics | None = app_state.get("livefeed.metrics")
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._upgraded = False
        #: The stream, from the upgrade on; it is the hub's subscriber, this its sink.
        self.session: StreamSession | None = None
        self._closing = False  # a close frame was written: nothing more is
        self._idle_sweeps = 0

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._idle_sweeps = 0
        if not self._upgraded:
            self._buffer += data
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HANDSHAKE:
                    self._http_error(431, "request headers too large")
                return
            request, rest = bytes(self._buffer[: end + 4]), bytes(self._buffer[end + 4 :])
            self._buffer.clear()
            self._handshake(request, rest)
            return
        self._buffer += data
        self._read_frames()

    def connection_lost(self, exc: Exception | None) -> None:
        self._teardown()

    def pause_writing(self) -> None:
        # Flow control is ours: the send-buffer bound below decides when a reader is too slow.
        return None

    def resume_writing(self) -> None:
        return None

    # uvicorn calls this on every connection it tracks when the server shuts down.
    def shutdown(self) -> None:
        self._close(SERVICE_RESTART.code, SERVICE_RESTART.reason)

    # -- the session's Sink -------------------------------------------------------------------

    def send(self, events: Sequence[Event]) -> None:
        self._send(b"".join(event.ws_frame for event in events))

    def push(self, event: Event) -> int:
        # The hot path: one write of the frame built once per process, no checks the
        # session has not made (it stops pushing once it is closing).
        transport = self.transport
        assert transport is not None
        transport.write(event.ws_frame)
        return transport.get_write_buffer_size()

    def end(self, code: int, reason: str) -> None:
        """Write the close frame; the peer gets one heartbeat to read what is buffered and
        answer, then it is cut. Nothing more is written meanwhile, so memory stays within
        the send bound."""
        if self._closing or self.transport is None or self.transport.is_closing():
            return
        self._closing = True
        self.transport.write(close_frame(code, reason))
        grace = self.state.settings.heartbeat_seconds if self.state else 25.0
        asyncio.get_running_loop().call_later(grace, self._abort)

    def _close(self, code: int, reason: str) -> None:
        """Close through the session (which ends this sink), or directly before it exists."""
        if self.session is not None:
            self.session.close(code, reason)
        else:
            self.end(code, reason)

    # -- handshake ------------------------------------------------------------------------

    def _handshake(self, request: bytes, rest: bytes) -> None:
        head = request.decode("latin-1").split("\r\n")
        try:
            method, target, _version = head[0].split(" ", 2)
        except ValueError:
            self._http_error(400, "malformed request line")
            return
        path, _, query = target.partition("?")
        match = FEED_PATH.match(unquote(path))
        if match is None or self.state is None:
            self._hand_over(request + rest)
            return
        headers: list[tuple[bytes, bytes]] = []
        for line in head[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            headers.append(
                (name.strip().lower().encode("latin-1"), value.strip().encode("latin-1"))
            )
        lookup = {name: value for name, value in headers}
        key = lookup.get(b"sec-websocket-key")
        if (
            method != "GET"
            or b"websocket" not in lookup.get(b"upgrade", b"").lower()
            or lookup.get(b"sec-websocket-version") != b"13"
            or not key
        ):
            self._http_error(400, "not a valid WebSocket upgrade request")
            return
        since: int | None = None
        raw_since = parse_qs(query).get("since", [None])[0]
        if raw_since is not None:
            try:
                since = int(raw_since)
            except ValueError:
                self._http_error(400, "since must be an integer rev")
                return
        assert self.transport is not None
        http = HTTPConnection(
            {
                "type": "websocket",
                "path": path,
                "headers": headers,
                "client": self._client_address(lookup),
                "query_string": query.encode(),
            }
        )
        self.session = app_session(
            self.state,
            http,
            unquote(match.group(1)),
            self,
            metrics=self._metrics,
            transport="websocket",
        )
        self._upgraded = True
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + _accept_key(key) + b"\r\n\r\n"
        )
        self._server_state.connections.add(self)
        self.open_connections.add(self)
        self._ensure_sweeper(self.state.settings.heartbeat_seconds)
        if rest:
            self._buffer += rest
        task = asyncio.get_running_loop().create_task(self._open(since))
        self._server_state.tasks.add(task)
        task.add_done_callback(self._server_state.tasks.discard)

    def _client_address(self, lookup: dict[bytes, bytes]) -> tuple[str, int]:
        assert self.transport is not None
        peer = self.transport.get_extra_info("peername") or ("unknown", 0)
        host, port = str(peer[0]), int(peer[1])
        # Behind a trusted proxy, the client is the last address it appended.
        forwarded = lookup.get(b"x-forwarded-for")
        if forwarded and _trusted(host, str(getattr(self._config, "forwarded_allow_ips", ""))):
            host = forwarded.decode("latin-1").split(",")[-1].strip() or host
        return host, port

    async def _open(self, since: int | None) -> None:
        """The only task a reader gets: the session's admission, attach and catch-up. The
        peer may vanish at any await; the session then undoes what it did, once."""
        assert self.session is not None
        await self.session.open(since)

    # -- incoming frames ------------------------------------------------------------------

    def _read_frames(self) -> None:
        buffer = self._buffer
        limit = self.state.settings.client_max_message_bytes if self.state else 4096
        while len(buffer) >= 2:
            first, second = buffer[0], buffer[1]
            opcode = first & 0x0F
            masked = second & 0x80
            length = second & 0x7F
            offset = 2
            if length == 126:
                if len(buffer) < 4:
                    return
                length = struct.unpack_from("!H", buffer, 2)[0]
                offset = 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                length = struct.unpack_from("!Q", buffer, 2)[0]
                offset = 10
            if not masked:
                self._fail(CLOSE_PROTOCOL_ERROR, "client frames must be masked")
                return
            if length > limit:
                self._fail(CLOSE_TOO_BIG, "frame too large")
                return
            end = offset + 4 + length
            if len(buffer) < end:
                return
            mask = bytes(buffer[offset : offset + 4])
            payload = bytes(buffer[offset + 4 : end])
            del buffer[:end]
            self._on_frame(opcode, payload, mask)

    def _on_frame(self, opcode: int, payload: bytes, mask: bytes) -> None:
        if opcode == OP_PING:
            self._send(frame(OP_PONG, _unmask(payload, mask)))
        elif opcode == OP_CLOSE:
            if not self._closing:
                code = (
                    struct.unpack("!H", _unmask(payload, mask)[:2])[0]
                    if len(payload) >= 2
                    else 1000
                )
                self._closing = True
                self._send(close_frame(code if 1000 <= code < 5000 else 1000))
            # Handshake complete: close after flushing (our echo is in the buffer).
            if self.transport is not None:
                self.transport.close()
            self._teardown()
        elif (
            opcode in (OP_TEXT, OP_BINARY, OP_CONT)
            and not self._closing
            and self.session is not None
        ):
            # Past the flood limit the session closes (1008); keep reading: the client's
            # answering close frame may be right behind.
            self.session.client_message()
        # Pongs only prove liveness, which data_received already noted.

    # -- keepalive --------------------------------------------------------------------------

    @classmethod
    def _ensure_sweeper(cls, interval: float) -> None:
        if cls._sweeper is None or cls._sweeper.done():
            cls._sweeper = asyncio.get_running_loop().create_task(cls._sweep(interval))

    @classmethod
    async def _sweep(cls, interval: float) -> None:
        """One loop per process: ping connections quiet for a heartbeat; drop those that
        stay quiet for another (a pong, or anything else received, counts as life)."""
        ping = frame(OP_PING, b"lf")
        while cls.open_connections:
            await asyncio.sleep(interval)
            for connection in list(cls.open_connections):
                connection._idle_sweeps += 1
                if connection._idle_sweeps >= 2:
                    connection._abort()
                elif not connection._closing:
                    connection._send(ping)

    # -- helpers ----------------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _fail(self, code: int, reason: str) -> None:
        """Unparseable input (unmasked or oversized frame): send the close frame, flush it,
        and end the connection — what follows in the stream cannot be framed."""
        self._close(code, reason)
        self._buffer.clear()
        if self.transport is not None:
            self.transport.close()
        self._teardown()

    def _abort(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()
        self._teardown()

    def _teardown(self) -> None:
        """The transport is gone (or going): the session undoes what it did, once; safe
        to call repeatedly."""
        self.open_connections.discard(self)
        self._server_state.connections.discard(self)
        if self.session is not None:
            self.session.transport_closed()

    def _http_error(self, status: int, message: str) -> None:
        assert self.transport is not None
        body = message.encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n%s" % (status, b"Bad Request", len(body), body)
        )
        self.transport.close()

    def _hand_over(self, data: bytes) -> None:
        """Not a feed stream: let uvicorn's own WebSocket protocol (and the ASGI app) serve it."""
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

        assert self.transport is not None
        protocol = WebSocketsSansIOProtocol(
            config=self._config, server_state=self._server_state, app_state=self._app_state
        )
        protocol.connection_made(self.transport)
        protocol.data_received(data)
        self.transport.set_protocol(protocol)


@functools.lru_cache(maxsize=8)
def _trusted_networks(
    setting: str,
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None:
    """Parse ``LIVEFEED_FORWARDED_ALLOW_IPS`` (IPs or CIDRs, comma-separated; ``*``: all)."""
    if setting.strip() == "*":
        return None
    networks = []
    for item in setting.split(","):
        with contextlib.suppress(ValueError):
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
    return tuple(networks)


def _trusted(host: str, setting: str) -> bool:
    networks = _trusted_networks(setting or "127.0.0.1")
    if networks is None:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in networks)


def _unmask(payload: bytes, mask: bytes) -> bytes:
    if not payload:
        return payload
    # XOR with the repeated 4-byte mask, done as one big-integer operation.
    repeated = (mask * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        len(payload), "big"
    )
