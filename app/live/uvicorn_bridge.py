"""Every uvicorn internal the native WebSocket path depends on, in one place.

uvicorn has no public API for a WebSocket protocol class of one's own; the native path
(:mod:`app.live.native_ws`) relies on these internals, and nothing else in the project
may touch them:

- uvicorn builds the class named in its ``ws`` setting with the keyword arguments
  ``config``, ``server_state`` and ``app_state`` (``HttpToolsProtocol.handle_websocket_upgrade``
  and the h11 equivalent), then calls ``connection_made(transport)`` and
  ``data_received(<the whole request head>)``;
- ``ServerState.connections`` is the set uvicorn walks on shutdown, calling each member's
  ``shutdown()``; ``ServerState.tasks`` is the set of tasks it waits for;
- ``WebSocketsSansIOProtocol`` (``ws="websockets-sansio"``) is the ASGI engine's WebSocket
  protocol, and takes over the native path's WebSocket requests that are not feed streams.
  :class:`AsgiWebSocketProtocol` extends it where it falls short of RFC 6455 or of
  livefeed's bounds (see there); it relies on its ``conn`` (the ``websockets``
  ``ServerProtocol``), ``transport``, ``queue``, ``close_sent``, ``handshake_initiated``,
  ``handshake_complete``, ``initial_response``, ``read_paused``, ``close_timer``/``close_timeout``,
  on ``handle_connect`` building the app's ``scope`` (with ``extensions``) before the app
  runs, on ``run_asgi`` judging the handshake by ``handshake_complete``, on ``ClientDisconnected``
  being an ``OSError`` (Starlette's disconnect) and on
  ``handle_connect``/``handle_ping``/``data_received``/``send`` being the hooks they are;
- :class:`LivefeedServer` (the accept burst of :mod:`app.accepting`) extends ``Server``:
  ``startup(sockets=)`` leaves its listeners in ``self.servers`` (each with ``.sockets``)
  and ``shutdown(sockets=)`` closes them first; a protocol built by uvicorn keeps the
  ``config``, ``server_state``, ``app_state`` and ``loop`` it was built with (the burst
  builds its siblings with them, ``_loop=`` included).

:func:`check_compatible` verifies all of it against the installed uvicorn; a test calls it,
so an upgrade that breaks the contract fails the suite instead of failing in production.
"""

from __future__ import annotations

import asyncio
import codecs
import inspect
import socket
from collections.abc import Callable, MutableMapping
from typing import Any, Protocol

import uvicorn
from uvicorn.config import WS_PROTOCOLS
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import Server, ServerState
from websockets.frames import Frame
from websockets.http11 import Request
from websockets.protocol import State

from app import accepting
from app.live.close_codes import CLOSE_INVALID_DATA, CLOSE_POLICY, SLOW_READER
from app.live.flood import MessageRate
from app.live.frames import OP_PONG, fit_close_reason

#: The ``ws`` setting naming uvicorn's own sans-I/O WebSocket implementation.
ASGI_WS_PROTOCOL = "websockets-sansio"
#: What ``uvicorn.Config(ws=...)`` gets for the ASGI engine.
ASGI_ENGINE_PROTOCOL = "app.live.uvicorn_bridge:AsgiWebSocketProtocol"
PONG_FRAME_START = 0x80 | OP_PONG
#: The ASGI scope extension through which the app hands :class:`AsgiWebSocketProtocol` the
#: stream's flood count (see :func:`count_pings_with`).
PING_COUNT_EXTENSION = "livefeed.ping_count"


class TrackedConnection(Protocol):
    """What uvicorn expects of a member of ``ServerState.connections``."""

    def shutdown(self) -> None: ...


def track(server_state: Any, connection: TrackedConnection) -> None:
    """Register ``connection`` so that uvicorn's shutdown calls its ``shutdown()``."""
    server_state.connections.add(connection)


def untrack(server_state: Any, connection: TrackedConnection) -> None:
    server_state.connections.discard(connection)


def run_task(server_state: Any, task: asyncio.Task[None]) -> None:
    """Let uvicorn's shutdown wait for ``task`` (it cancels what is left after the timeout)."""
    server_state.tasks.add(task)
    task.add_done_callback(server_state.tasks.discard)


class AsgiWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, plus what it lacks:

    - a request head the library refuses is answered (414/431 as the library wrote it, 400
      for one it cannot parse) instead of left hanging;
    - a wrong ``Sec-WebSocket-Version`` gets 426 naming version 13 (RFC 6455 §4.4);
    - a client's pings count against ``LIVEFEED_CLIENT_MAX_MESSAGES_PER_MINUTE`` (1008 past
      it) — on the stream session's own count, with its data frames, once the app handed
      it over (:func:`count_pings_with`), on one of the connection's until then; a pong
      that would take the unsent bytes past ``LIVEFEED_SEND_BUFFER_BYTES`` closes the
      connection instead (4008), and nothing is written after a close frame;
    - text messages are checked as UTF-8 frame by frame, and fail with 1007 (uvicorn logs a
      traceback for them and checks only whole messages);
    - close reasons are cut to 123 bytes on a character boundary;
    - a handshake still in progress when the server shuts down gets 503 with
      ``Retry-After`` (uvicorn answers 500), so a client retries elsewhere;
    - a refused opening handshake (``websocket.http.response.*``, the denial response) and
      an accept that finds the client gone both end the handshake, so uvicorn does not log
      "ASGI callable returned without completing handshake." at ERROR for a refusal the
      app decided; the app's accept raises :class:`ClientDisconnected` (Starlette's
      ``WebSocketDisconnect``) instead of being dropped silently.
    """

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        state = app_state.get("livefeed")
        settings = state.settings if state is not None else None
        per_minute = settings.client_max_messages_per_minute if settings else 120
        self.send_bound = settings.send_buffer_bytes if settings else 1 << 20
        #: The stream's flood count, once the app handed it over: counts one ping, and
        #: returns False (and closes the stream itself) past the limit.
        self.session_count: Callable[[], bool] | None = None
        #: Until then (or for a WebSocket that is not a feed stream): this connection's.
        self.own_count = MessageRate(per_minute, self.loop.time)
        self.text_decoder: codecs.IncrementalDecoder | None = None

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.handshake_initiated or self.conn.handshake_exc is None:
            return
        # The request head was refused before any handle_connect: answer it here.
        output = [chunk for chunk in self.conn.data_to_send() if chunk]
        if not output:
            body = b"malformed WebSocket handshake request\n"
            output = [
                b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
            ]
        self.handshake_initiated = self.handshake_complete = self.close_sent = True
        self.transport.write(b"".join(output))
        self.transport.close()

    def handle_connect(self, event: Request) -> None:
        versions = event.headers.get_all("Sec-WebSocket-Version")
        if not versions or versions == ["13"]:
            super().handle_connect(event)
            scope: MutableMapping[str, Any] | None = getattr(self, "scope", None)
            if scope is not None:  # accepted: the app runs with this scope
                scope["extensions"][PING_COUNT_EXTENSION] = {"count_with": self._count_with}
            return
        response = self.conn.reject(426, "unsupported WebSocket version: this server speaks 13\n")
        response.headers["Sec-WebSocket-Version"] = "13"
        self.handshake_initiated = self.handshake_complete = self.close_sent = True
        self.conn.send_response(response)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.transport.close()

    def shutdown(self) -> None:
        if self.handshake_complete or self.initial_response is not None:
            super().shutdown()
            return
        # As uvicorn's own refusal (a 500) does: the flags stay, so an accept the app sends
        # later finds the transport closing and is refused (see send()).
        self.stop_keepalive()
        response = self.conn.reject(503, "server restarting: reconnect\n")
        response.headers["Retry-After"] = "1"
        self.conn.send_response(response)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.transport.close()

    def handle_text(self, event: Frame) -> None:
        self.text_decoder = codecs.getincrementaldecoder("utf-8")()
        if self._valid_text(event):
            super().handle_text(event)

    def handle_bytes(self, event: Frame) -> None:
        self.text_decoder = None
        super().handle_bytes(event)

    def handle_cont(self, event: Frame) -> None:
        if self._valid_text(event):
            super().handle_cont(event)

    def _valid_text(self, event: Frame) -> bool:
        decoder = self.text_decoder
        if decoder is None:
            return True  # binary
        try:
            decoder.decode(event.data, final=event.fin)
        except UnicodeDecodeError:
            self.text_decoder = None
            if self.conn.state is State.OPEN and not self.close_sent:
                self.conn.fail(CLOSE_INVALID_DATA, "invalid UTF-8 in a text message")
                self.handle_parser_exception()
            return False
        if event.fin:
            self.text_decoder = None
        return True

    def handle_ping(self) -> None:
        # data_to_send() holds the pongs of every ping parsed in this read (and a close
        # echo after them, if the client's close came in the same read).
        for chunk in self.conn.data_to_send():
            if not chunk or self.transport.is_closing():
                continue
            if chunk[0] == PONG_FRAME_START:
                if self.close_sent or not self._count_ping():
                    continue
                if self.transport.get_write_buffer_size() + len(chunk) > self.send_bound:
                    self._close_with(SLOW_READER.code, SLOW_READER.reason)
                    continue
            self.transport.write(chunk)

    def _count_with(self, count: Callable[[], bool]) -> None:
        self.session_count = count

    def _count_ping(self) -> bool:
        if self.session_count is not None:
            return self.session_count()  # past the limit the session closes (1008) itself
        if self.own_count.count():
            return True
        self._close_with(CLOSE_POLICY, "too many messages")
        return False

    def _close_with(self, code: int, reason: str) -> None:
        """Start the closing handshake from the server side and tell the app it is over."""
        if self.close_sent or self.conn.state is not State.OPEN:
            return
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.conn.send_close(code, fit_close_reason(reason))
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)

    async def send(self, message: Any) -> None:
        if message["type"] == "websocket.close" and message.get("reason"):
            message = {**message, "reason": fit_close_reason(message["reason"])}
        if (
            message["type"] == "websocket.accept"
            and not self.handshake_complete
            and self.initial_response is None
            and self.transport.is_closing()
        ):
            # The client vanished (or shutdown answered 503) before the accept: uvicorn
            # would drop the accept silently and leave the handshake open for ever. It is
            # over; the app hears that the client is gone.
            self.handshake_complete = self.close_sent = True
            raise ClientDisconnected()
        await super().send(message)
        if (
            message["type"] == "websocket.http.response.body"
            and not message.get("more_body", False)
            and self.initial_response is not None
            and self.close_sent
        ):
            # The denial response is written: the opening handshake is over, as after
            # uvicorn's own 403 (which sets the flag). uvicorn leaves it unset here, so an
            # app that returns before ``connection_lost`` runs is logged at ERROR as
            # "returned without completing handshake".
            self.handshake_complete = True


def count_pings_with(scope: MutableMapping[str, Any], count: Callable[[], bool]) -> None:
    """Have the protocol serving this WebSocket ``scope`` count the client's pings with
    ``count`` — a stream session's :meth:`~app.live.session.StreamSession.client_message`,
    which counts its data frames too — so a flood of both meets one limit. A no-op under
    a server that answers pings without asking (none offers the extension)."""
    extension = scope.get("extensions", {}).get(PING_COUNT_EXTENSION)
    if extension is not None:
        extension["count_with"](count)


def hand_over(
    transport: asyncio.Transport,
    data: bytes,
    *,
    config: Any,
    server_state: Any,
    app_state: dict[str, Any],
) -> asyncio.Protocol:
    """Serve this connection with uvicorn's own sans-I/O WebSocket protocol (and so the
    ASGI app), replaying ``data`` — the request bytes received so far; return it.

    uvloop keeps calling the *first* protocol's ``connection_lost`` after
    ``set_protocol()``: the caller must pass it on to the one returned here."""
    protocol = AsgiWebSocketProtocol(config=config, server_state=server_state, app_state=app_state)
    protocol.connection_made(transport)
    protocol.data_received(data)
    transport.set_protocol(protocol)
    return protocol


class LivefeedServer(Server):
    """uvicorn's server, plus the accept burst on its listening sockets from the moment it
    listens until its shutdown begins (see :mod:`app.accepting`)."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        servers: list[Any] = getattr(self, "servers", [])
        accepting.install(self.server_state, (s for server in servers for s in server.sockets))

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # First, so that the port stops taking connections as uvicorn closes its listeners.
        accepting.close(self.server_state)
        await super().shutdown(sockets=sockets)


def check_compatible() -> list[str]:
    """What the installed uvicorn lacks of the contract above (empty: compatible)."""
    problems: list[str] = []
    state = ServerState()
    for name in ("connections", "tasks"):
        if not isinstance(getattr(state, name, None), set):
            problems.append(f"ServerState.{name} is not a set")
    upgrade = inspect.getsource(HttpToolsProtocol.handle_websocket_upgrade)
    for needle in (
        "config=",
        "server_state=",
        "app_state=",
        ".connection_made(",
        ".data_received(",
    ):
        if needle not in upgrade:
            problems.append(f"HttpToolsProtocol.handle_websocket_upgrade no longer does {needle}")
    connect = inspect.getsource(WebSocketsSansIOProtocol.handle_connect)
    if "self.scope" not in connect or '"extensions"' not in connect:
        problems.append("WebSocketsSansIOProtocol.handle_connect no longer builds self.scope")
    if ".shutdown()" not in inspect.getsource(Server.shutdown):
        problems.append("Server.shutdown no longer calls connection.shutdown()")
    for hook in (Server.startup, Server.shutdown):
        if "sockets" not in inspect.signature(hook).parameters:
            problems.append(f"Server.{hook.__name__} takes no sockets=")
    if "self.servers" not in inspect.getsource(Server.startup):
        problems.append("Server.startup no longer keeps its listeners in self.servers")
    if "server.close()" not in inspect.getsource(Server.shutdown):
        problems.append("Server.shutdown no longer closes its listeners")
    http_init = inspect.getsource(HttpToolsProtocol.__init__)
    if "_loop" not in inspect.signature(HttpToolsProtocol.__init__).parameters:
        problems.append("HttpToolsProtocol() takes no _loop=")
    for attribute in ("self.config", "self.server_state", "self.app_state", "self.loop"):
        if attribute + " " not in http_init and attribute + ":" not in http_init:
            problems.append(f"HttpToolsProtocol no longer sets {attribute}")
    params = inspect.signature(WebSocketsSansIOProtocol.__init__).parameters
    for name in ("config", "server_state", "app_state"):
        if name not in params:
            problems.append(f"WebSocketsSansIOProtocol() takes no {name}=")
    for method in (
        "connection_made",
        "data_received",
        "handle_connect",
        "handle_text",
        "handle_bytes",
        "handle_cont",
        "handle_ping",
        "handle_parser_exception",
        "send",
        "shutdown",
        "stop_keepalive",
    ):
        if not callable(getattr(WebSocketsSansIOProtocol, method, None)):
            problems.append(f"WebSocketsSansIOProtocol.{method} is missing")
    init_source = inspect.getsource(WebSocketsSansIOProtocol.__init__)
    for attribute in (
        "self.conn",
        "self.queue",
        "self.close_sent",
        "self.handshake_initiated",
        "self.handshake_complete",
        "self.read_paused",
        "self.close_timer",
        "self.close_timeout",
        "self.initial_response",
        "self.loop",
    ):
        if attribute + " " not in init_source and attribute + ":" not in init_source:
            problems.append(f"WebSocketsSansIOProtocol no longer sets {attribute}")
    # The denial response and an accept on a closing transport are finished in send():
    # run_asgi logs an ERROR for an app that returns while handshake_complete is unset.
    if "not self.handshake_complete" not in inspect.getsource(WebSocketsSansIOProtocol.run_asgi):
        problems.append("WebSocketsSansIOProtocol.run_asgi no longer checks handshake_complete")
    send_source = inspect.getsource(WebSocketsSansIOProtocol.send)
    for needle in ("websocket.http.response.body", "self.transport.is_closing()"):
        if needle not in send_source:
            problems.append(f"WebSocketsSansIOProtocol.send no longer handles {needle}")
    if not issubclass(ClientDisconnected, OSError):
        problems.append("ClientDisconnected is no longer an OSError (Starlette's disconnect)")
    if ASGI_WS_PROTOCOL not in WS_PROTOCOLS:
        problems.append(f"uvicorn has no ws={ASGI_WS_PROTOCOL!r}")
    if not problems:
        return []
    return [f"uvicorn {uvicorn.__version__}: {problem}" for problem in problems]
