"""The WebSocket fast path: ``/ws/feeds/{slug}`` served by a plain asyncio Protocol.

uvicorn hands every WebSocket upgrade to the protocol class named in its ``ws`` setting
(see :mod:`app.server`). :class:`FeedSocketProtocol` takes the ones for
``/ws/feeds/{slug}`` and serves them without ASGI; any other WebSocket path is passed on,
untouched, to the ASGI engine's protocol (and so to the ASGI app). The uvicorn internals
this relies on are all in :mod:`app.live.uvicorn_bridge`.

Bytes in go through the ``websockets`` library: the opening handshake and every frame a
client sends are parsed and checked by its sans-I/O :class:`~websockets.server.ServerProtocol`
(RFC 6455: masking, reserved bits and opcodes, control-frame rules, fragmentation, close
codes, the message size limit), and the library writes the handshake response, the pongs
and the close frames. Two checks are ours: text messages must be UTF-8 (1007, checked
incrementally per frame), and the client's frames, pings included, count against the
session's flood limit (``LIVEFEED_CLIENT_MAX_MESSAGES_PER_MINUTE``, 1008).

Bytes out are the speed: a reader costs what its socket costs. There is no task, queue or
timer per connection — the connection is an object with ``__slots__`` that the hub calls
back: through its session while the stream opens, directly once it is live. Each event's
frame is built once per process (:attr:`app.hub.Event.ws_frame`) and written with one
``transport.write`` per reader. Opening a stream runs one short task (admission, hub
attach, catch-up read); after that everything is callbacks. Keepalive pings for all
connections come from one sweep loop per process.

Once this side's close frame is written, nothing else is: no event, hello, catch-up, pong
or ping (:meth:`FeedSocketProtocol._write` and :meth:`FeedSocketProtocol._flush`).

The stream itself (admission, attach, catch-up, held events, the send bound, flood
limit, teardown, metrics) is a :class:`app.live.session.StreamSession`, as for the ASGI
endpoint in :mod:`app.live.ws` and for SSE; this protocol is its :class:`Sink`, and once
the stream is live, its own hub subscriber (:meth:`FeedSocketProtocol.live`): ``deliver``
is one ``transport.write`` of the pre-framed event, then a look at what the kernel has not
taken yet (``transport.get_write_buffer_size()``), bounded by ``send_buffer_bytes`` (past
it: 4008); pongs are bounded by the same figure.
permessage-deflate is declined: events are small and compressing per reader costs more
CPU than it saves.
"""

from __future__ import annotations

import asyncio
import codecs
import functools
import logging
import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, ClassVar, cast
from urllib.parse import parse_qs, unquote

from starlette.requests import HTTPConnection
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol

from app.events import UNSEQUENCED
from app.forwarded import TrustedProxies
from app.hub import Event
from app.live import access, uvicorn_bridge
from app.live.close_codes import CLOSE_INVALID_DATA, SERVICE_RESTART, SLOW_READER
from app.live.frames import OP_CLOSE, OP_PING, OP_PONG, fit_close_reason, frame
from app.live.session import StreamSession, app_session
from app.metrics import Metrics
from app.state import AppState

log = logging.getLogger(__name__)

FEED_PATH = re.compile(r"^/ws/feeds/([^/?#]+)$")
#: Request bytes kept (for a hand-over to the ASGI engine) until the request head is parsed.
MAX_HANDSHAKE = 16 * 1024
#: How long a reader closed with 1012 (the process is stopping) has to answer the close
#: frame before its connection is cut: the 1012 is already written, the reader reconnects
#: either way, and the stopping process waits for its connections (10,000 slow close
#: handshakes used to hold a restart for the whole LIVEFEED_SHUTDOWN_TIMEOUT_SECONDS).
RESTART_CLOSE_REPLY_SECONDS = 1.0
_PING = frame(OP_PING, b"lf")
_CLOSE_FRAME_START = 0x80 | OP_CLOSE  # FIN + close: how every close frame we send begins
_PONG_FRAME_START = 0x80 | OP_PONG

# The library logs every opened and closed connection at INFO: one line per reader is noise.
_protocol_log = logging.getLogger("livefeed.ws.protocol")
_protocol_log.setLevel(logging.WARNING)


class FeedSocketProtocol(asyncio.Protocol):
    """Serves ``/ws/feeds/{slug}``; hands any other WebSocket path to the ASGI engine."""

    __slots__ = (
        "_app_state",
        "_buffer",
        "_closing",
        "_config",
        "_covered",
        "_handed_to",
        "_idle_sweeps",
        "_limit_bytes",
        "_metrics",
        "_server_state",
        "_slot",
        "_text",
        "_upgraded",
        "_ws",
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
        #: The RFC 6455 state machine: parses everything the client sends.
        self._ws = self._new_protocol(State.CONNECTING)
        self._buffer = bytearray()  # the raw request, until it is parsed
        self._upgraded = False
        #: UTF-8 check of the text message being received (None: not inside one).
        self._text: codecs.IncrementalDecoder | None = None
        #: uvicorn's protocol serving a path that is not a feed stream (see _handshake).
        self._handed_to: asyncio.Protocol | None = None
        #: The stream, from the upgrade on; it is the hub's subscriber, this its sink.
        self.session: StreamSession | None = None
        #: This connection's place in the per-address and process counts (from the 101).
        self._slot: access.AddressSlot | None = None
        #: Our close frame is written (or the connection is ending): write nothing more.
        self._closing = False
        self._idle_sweeps = 0
        #: Set when the stream goes live (see live): the last rev the opening covered, and
        #: the send bound.
        self._covered = 0
        self._limit_bytes = 0

    def _new_protocol(self, state: State) -> ServerProtocol:
        max_size = self.state.settings.client_max_message_bytes if self.state else 4096
        return ServerProtocol(state=state, max_size=max_size, logger=_protocol_log)

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._handed_to is not None:
            # uvloop keeps handing reads to this protocol after set_protocol() too (as it
            # does connection_lost): a WebSocket of another path that stays open (the
            # studio's team channel) would never hear its client otherwise.
            self._handed_to.data_received(data)
            return
        self._idle_sweeps = 0
        if self.transport is None or self.transport.is_closing():
            return  # the connection is over; whatever follows is discarded
        if not self._upgraded:
            self._receive_request(data)
            return
        ws = self._ws
        if ws.state is State.CLOSED:
            return
        ws.receive_data(data)
        for event in ws.events_received():
            assert isinstance(event, Frame)
            self._on_frame(event)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._handed_to is not None:
            # uvloop still reports the loss to this protocol after set_protocol(): pass it
            # on, or uvicorn's protocol stays in ServerState.connections and every graceful
            # shutdown waits its full timeout for it.
            self._handed_to.connection_lost(exc)
            return
        self._closing = True
        self._teardown()

    def pause_writing(self) -> None:
        # Flow control is ours: the session's send bound decides when a reader is too slow.
        return None

    def resume_writing(self) -> None:
        return None

    # uvicorn calls this on every connection it tracks when the server shuts down.
    def shutdown(self) -> None:
        self._close(SERVICE_RESTART.code, SERVICE_RESTART.reason)

    # -- the session's Sink -------------------------------------------------------------------

    def send(self, events: Sequence[Event]) -> None:
        self._write(b"".join(event.ws_frame for event in events))

    def live(self, session: StreamSession, covered: int) -> FeedSocketProtocol:
        """Take the session's place in the hub: this protocol is the live subscriber."""
        self._covered = covered
        self._limit_bytes = session.limit_bytes
        return self

    # -- the hub's subscriber, once live -----------------------------------------------------

    def deliver(self, event: Event) -> None:
        """The fan-out hot path: one write of the frame built once per process; the only
        object per reader the hub's loop touches besides the transport. The session is
        closed before any close frame goes out (see _flush), and closing it detaches this,
        so ``_closing`` only guards the rest of a loop already under way."""
        if self._closing:
            return
        rev = event.rev
        if rev <= self._covered and rev != UNSEQUENCED:
            return  # the opening covered it (a catch-up may read past the boundary)
        transport = self.transport
        assert transport is not None
        transport.write(event.ws_frame)
        if transport.get_write_buffer_size() > self._limit_bytes:
            self._close(SLOW_READER.code, SLOW_READER.reason)

    def close(self, code: int, reason: str) -> None:
        """The hub's drain (and failure) call: close through the session."""
        self._close(code, reason)

    def end(self, code: int, reason: str) -> None:
        """Start the closing handshake with ``code``; the peer gets one heartbeat to read
        what is buffered and answer, then it is cut — only
        :data:`RESTART_CLOSE_REPLY_SECONDS` for a 1012, since the process is going away and
        waits for its connections. Nothing more is written meanwhile, so memory stays
        within the send bound."""
        if self._closing or self.transport is None or self.transport.is_closing():
            return
        if self._ws.state is not State.OPEN:
            return  # the library already sent a close frame (answering the client's)
        self._ws.send_close(code, fit_close_reason(reason))
        self._flush()
        if code == SERVICE_RESTART.code:
            grace = RESTART_CLOSE_REPLY_SECONDS
        else:
            grace = self.state.settings.heartbeat_seconds if self.state else 25.0
        asyncio.get_running_loop().call_later(grace, self._abort)

    def _close(self, code: int, reason: str) -> None:
        """Close through the session (which ends this sink), or directly before it exists."""
        if self.session is not None:
            self.session.close(code, reason)
        else:
            self.end(code, reason)

    # -- handshake ------------------------------------------------------------------------

    def _receive_request(self, data: bytes) -> None:
        """Opening handshake: the library parses the request; once it is answered with 101,
        a fresh protocol object in the OPEN state parses the frames (the handshake one keeps
        the request's headers alive in its parser, a few KiB per reader)."""
        self._buffer += data
        ws = self._ws
        ws.receive_data(data)
        events = ws.events_received()
        if not events:
            self._request_incomplete()
            return
        request = events[0]
        assert isinstance(request, Request)
        raw = bytes(self._buffer)
        self._buffer.clear()
        ws.data_to_send()  # pongs to frames sent before our answer: not answered
        if self._handshake(request, raw):
            self._ws = self._new_protocol(State.OPEN)
            rest = raw[raw.index(b"\r\n\r\n") + 4 :]
            if rest:  # frames that did not wait for the 101 (RFC 6455 §4.1 says wait)
                self.data_received(rest)

    def _request_incomplete(self) -> None:
        """No complete request head yet: wait for more, or answer what the library refused
        (it writes 414/431 itself for an oversized line or too many headers; a request it
        cannot parse at all gets 400 here)."""
        ws = self._ws
        if ws.handshake_exc is None:
            if len(self._buffer) > MAX_HANDSHAKE:
                self._http_error(431, "request headers too large")
            return
        self._buffer.clear()
        if any(ws.writes):
            self._closing = True
            self._flush()
            return
        cause = ws.handshake_exc.__cause__ or ws.handshake_exc
        self._http_error(400, f"malformed HTTP request: {cause}")

    def _handshake(self, request: Request, raw: bytes) -> bool:
        """Answer the opening handshake; True once the connection is a live stream."""
        path, _, query = request.path.partition("?")
        # Decoded exactly once, as the ASGI path is; the slug is not decoded again.
        match = FEED_PATH.match(unquote(path))
        if match is None or self.state is None:
            assert self.transport is not None
            self._handed_to = uvicorn_bridge.hand_over(
                self.transport,
                raw,
                config=self._config,
                server_state=self._server_state,
                app_state=self._app_state,
            )
            return False
        ws = self._ws
        versions = request.headers.get_all("Sec-WebSocket-Version")
        if versions and versions != ["13"]:
            # RFC 6455 §4.4: say which version this server speaks.
            response = ws.reject(426, "unsupported WebSocket version: this server speaks 13\n")
            response.headers["Sec-WebSocket-Version"] = "13"
            self._refuse(response)
            return False
        response = ws.accept(request)
        if response.status_code != 101:
            self._refuse(response)
            return False
        since: int | None = None
        raw_since = parse_qs(query).get("since", [None])[0]
        if raw_since is not None:
            try:
                since = int(raw_since)
            except ValueError:
                self._refuse(ws.reject(400, "since must be an integer rev\n"))
                return False
        assert self.transport is not None
        peer = self.transport.get_extra_info("peername") or ("unknown", 0)
        client = (
            _proxies(self.state.settings.forwarded_allow_ips).client_host(
                str(peer[0]), request.headers.get_all("X-Forwarded-For")
            ),
            int(peer[1]),
        )
        slot = access.reserve(self.state, client[0])
        if isinstance(slot, access.Refusal):
            refusal = ws.reject(slot.status, slot.reason + "\n")
            refusal.headers.update(slot.headers)
            self._refuse(refusal)
            return False
        self._slot = slot
        headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in request.headers.raw_items()
        ]
        http = HTTPConnection(
            {
                "type": "websocket",
                "path": path,
                "headers": headers,
                "client": client,
                "query_string": query.encode(),
            }
        )
        self.session = app_session(
            self.state,
            http,
            match.group(1),
            self,
            metrics=self._metrics,
            transport="websocket",
        )
        self._upgraded = True
        del response.headers["Date"]  # one formatted date per reader is wasted work
        ws.send_response(response)
        self._flush()
        uvicorn_bridge.track(self._server_state, self)
        self.open_connections.add(self)
        self._ensure_sweeper(self.state.settings.heartbeat_seconds)
        task = asyncio.get_running_loop().create_task(self._open(since))
        uvicorn_bridge.run_task(self._server_state, task)
        return True

    def _refuse(self, response: Response) -> None:
        """Send a handshake refusal (an HTTP response) and close."""
        self._ws.send_response(response)
        self._closing = True
        self._flush()

    async def _open(self, since: int | None) -> None:
        """The only task a reader gets: the session's admission, attach and catch-up. The
        peer may vanish at any await; the session then undoes what it did, once."""
        assert self.session is not None
        await self.session.open(since)

    # -- incoming frames ------------------------------------------------------------------

    def _on_frame(self, event: Frame) -> None:
        """One frame the library parsed and accepted (it answers pings and closes itself;
        pings are counted as their pongs are written, in :meth:`_flush`)."""
        opcode = event.opcode
        if opcode is Opcode.CLOSE or opcode is Opcode.PING or self._closing:
            return  # once closing, the client's frames only await its close frame
        if opcode is Opcode.TEXT:
            self._text = codecs.getincrementaldecoder("utf-8")()
            self._check_text(event)
        elif opcode is Opcode.CONT:
            self._check_text(event)
        if self.session is not None:
            # Past the flood limit the session closes (1008); keep reading: the client's
            # answering close frame may be right behind.
            self.session.client_message()

    def _check_text(self, event: Frame) -> None:
        decoder = self._text
        if decoder is None:
            return  # a continuation of a binary message
        try:
            decoder.decode(event.data, final=event.fin)
        except UnicodeDecodeError:
            self._text = None
            if self._ws.state is State.OPEN:
                self._ws.fail(CLOSE_INVALID_DATA, "invalid UTF-8 in a text message")
            return
        if event.fin:
            self._text = None

    def _flush(self) -> None:
        """Write what the library produced (handshake response, pongs, close frames).

        Nothing after our close frame. Each pong counts its ping against the flood limit,
        and a pong that would take the unsent bytes past the send bound cuts the reader off
        instead (4008). A close frame of the library's own (an answer to the client's, or a
        protocol error) closes the session first, so no event is pushed after it. The
        library's end-of-stream closes the transport (once the kernel took what is
        buffered)."""
        transport = self.transport
        if transport is None:
            return
        for data in self._ws.data_to_send():
            if not data:  # SEND_EOF
                self._closing = True
                transport.close()
                self._teardown()
                return
            if not self._upgraded:
                transport.write(data)  # a handshake response
                continue
            if self._closing:
                continue
            first = data[0]
            if first == _PONG_FRAME_START:
                if self.session is not None:
                    self.session.client_message()
                if self._closing:
                    continue  # that ping was one too many: the 1008 is out instead
                if transport.get_write_buffer_size() + len(data) > self._limit():
                    self._close(SLOW_READER.code, SLOW_READER.reason)
                    continue
            elif first == _CLOSE_FRAME_START:
                self._closing = True
                if self.session is not None:
                    self.session.close(*_close_of(data))
            transport.write(data)

    # -- keepalive --------------------------------------------------------------------------

    @classmethod
    def _ensure_sweeper(cls, interval: float) -> None:
        if cls._sweeper is None or cls._sweeper.done():
            cls._sweeper = asyncio.get_running_loop().create_task(cls._sweep(interval))

    @classmethod
    async def _sweep(cls, interval: float) -> None:
        """One loop per process: ping connections quiet for a heartbeat; drop those that
        stay quiet for another (a pong, or anything else received, counts as life)."""
        while cls.open_connections:
            await asyncio.sleep(interval)
            for connection in list(cls.open_connections):
                connection._idle_sweeps += 1
                if connection._idle_sweeps >= 2:
                    connection._abort()
                else:
                    connection._write(_PING)

    # -- helpers ----------------------------------------------------------------------------

    def _limit(self) -> int:
        return self.state.settings.send_buffer_bytes if self.state else 1 << 20

    def _write(self, data: bytes) -> None:
        """Write pre-built frames, unless our close frame is already out."""
        transport = self.transport
        if data and not self._closing and transport is not None and not transport.is_closing():
            transport.write(data)

    def _abort(self) -> None:
        self._closing = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()
        self._teardown()

    def _teardown(self) -> None:
        """The transport is gone (or going): the session undoes what it did, once; safe
        to call repeatedly."""
        self.open_connections.discard(self)
        uvicorn_bridge.untrack(self._server_state, self)
        if self.session is not None:
            self.session.transport_closed()
        if self._slot is not None:
            self._slot.release()

    def _http_error(self, status: int, message: str) -> None:
        """Refuse a request the library could not parse (it wrote no response for it)."""
        assert self.transport is not None
        self._closing = True
        body = message.encode(errors="replace") + b"\n"
        phrase = HTTPStatus(status).phrase.encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (status, phrase, len(body), body)
        )
        self.transport.close()


def _close_of(close_frame: bytes) -> tuple[int, str]:
    """(code, reason) of a close frame the library wrote (1005 when it carries none)."""
    payload = close_frame[2:]  # our frames are unmasked and their payload is under 126
    if len(payload) < 2:
        return 1005, ""
    return int.from_bytes(payload[:2], "big"), payload[2:].decode(errors="replace")


@functools.lru_cache(maxsize=4)
def _proxies(setting: str) -> TrustedProxies:
    return TrustedProxies(setting)
