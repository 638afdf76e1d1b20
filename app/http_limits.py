"""HTTP/1.1 limits uvicorn's httptools protocol does not enforce by itself.

:class:`LimitedHttpProtocol` is uvicorn's ``http`` protocol class under ``livefeed serve``
(see :mod:`app.server`). Every TCP connection starts here, WebSocket upgrades included
(uvicorn parses the upgrade request before handing the socket to the ``ws`` protocol), so
these limits hold on every listening path:

* **Request line and headers**: a URL over ``max_url_bytes`` gets 414, a request head
  (request line + headers) over ``max_header_bytes`` gets 431, both with
  ``Connection: close``. Bytes are counted as they arrive, so an endless header costs at
  most the limit plus one socket read, never the whole stream.
* **Slow clients**: a request head not complete within ``header_timeout_seconds`` of the
  connection opening (or of its first byte on a kept-alive connection) gets 408 and the
  socket is closed; so does a body not complete within ``body_timeout_seconds`` of its
  head. A connection that sends nothing at all is closed silently after
  ``header_timeout_seconds``. Idle kept-alive connections are closed by uvicorn's own
  ``timeout_keep_alive`` (set from ``keepalive_timeout_seconds``).
* **Connection budget**: at accept, a process already holding ``max_open_connections``
  sockets (HTTP and upgraded WebSockets) answers 503 and closes at once, so descriptors
  stay free for the database, Redis and clients already served; one peer address holding
  ``max_http_connections_per_ip`` HTTP connections gets 429 and a close. Peers trusted as
  proxies (``LIVEFEED_FORWARDED_ALLOW_IPS``) are exempt from the per-address cap: behind a
  proxy, all clients share its address (the per-client live-stream cap applies the
  forwarded address at the WebSocket/SSE handshake instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import resource
import socket
import struct
from collections import Counter
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.middleware.proxy_headers import _TrustedHosts
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from app import accepting
from app.config import Settings, load_settings

log = logging.getLogger(__name__)

# Descriptors kept back from the connection budget: database pool, Redis, logs, imports.
_RESERVED_DESCRIPTORS = 64


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """The limits one process applies; built once from :class:`Settings`."""

    max_url_bytes: int
    max_header_bytes: int
    header_timeout_seconds: float
    body_timeout_seconds: float
    max_open_connections: int
    max_http_connections_per_ip: int
    trusted_proxies: _TrustedHosts

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        return cls(
            max_url_bytes=settings.max_url_bytes,
            max_header_bytes=settings.max_header_bytes,
            header_timeout_seconds=settings.header_timeout_seconds,
            body_timeout_seconds=settings.body_timeout_seconds,
            max_open_connections=settings.max_open_connections or default_connection_budget(),
            max_http_connections_per_ip=settings.max_http_connections_per_ip,
            trusted_proxies=_TrustedHosts(settings.forwarded_allow_ips),
        )


def default_connection_budget() -> int:
    """90% of the soft descriptor limit, less a reserve for everything that is not a client."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    return max(16, soft * 9 // 10 - _RESERVED_DESCRIPTORS)


class _Rejected(Exception):
    """Raised from a parser callback to stop parsing a request that broke a limit."""


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol plus the limits above (see the module docstring)."""

    #: Open HTTP (not yet upgraded) connections per peer address, in this process.
    connections_by_ip: ClassVar[Counter[str]] = Counter()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = _limits(self.app_state)
        self._peer_ip: str | None = None  # set while counted in connections_by_ip
        self._refused = False
        self._in_head = False  # a request has begun and its head is not complete yet
        self._in_body = False  # its head is complete and its body is not
        self._head_bytes = 0
        self._header_bytes = 0
        self._heads_done = 0  # requests whose head completed on this connection
        self._received_any = False
        self._rejection: tuple[int, str] | None = None
        self._deadline: asyncio.TimerHandle | None = None

    # -- accept ----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        limits = self._limits
        if len(self.connections) >= limits.max_open_connections:
            self._refuse(transport, 503, "server at its connection limit; retry shortly")
            return
        peer = transport.get_extra_info("peername")
        ip = str(peer[0]) if isinstance(peer, tuple) and peer else None
        cap = limits.max_http_connections_per_ip
        if ip is not None and cap and ip not in limits.trusted_proxies:
            if self.connections_by_ip[ip] >= cap:
                self._refuse(transport, 429, "too many connections from this address")
                return
            self.connections_by_ip[ip] += 1
            self._peer_ip = ip
        super().connection_made(transport)
        self._arm(limits.header_timeout_seconds, self._head_timed_out)
        burst = accepting.of(self.server_state)
        if burst is not None:
            # Take the rest of the accept queue now, API calls first (app.accepting).
            burst.after_accept(self, limits.max_open_connections - len(self.connections))

    def _refuse(self, transport: asyncio.Transport, status: int, detail: str) -> None:
        self._refused = True
        self.transport = transport
        extra = b"retry-after: 1\r\n"
        transport.write(_response(status, detail, extra))
        transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        self._disarm()
        self._forget_peer()
        super().connection_lost(exc)

    def _forget_peer(self) -> None:
        ip, self._peer_ip = self._peer_ip, None
        if ip is not None:
            self.connections_by_ip[ip] -= 1
            if self.connections_by_ip[ip] <= 0:
                del self.connections_by_ip[ip]

    # -- reading ---------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        self._received_any = True
        limits = self._limits
        while data and self.parser is not None:
            if self._in_body:
                piece, data = data, b""
            else:
                # Feed at most one byte past the head limit while a head may be arriving.
                room = limits.max_header_bytes + 1 - self._head_bytes
                piece, data = data[:room], data[room:]
            heads_before = self._heads_done
            was_in_body = self._in_body
            try:
                self.parser.feed_data(piece)
            except _Rejected:
                pass
            except Exception as exc:
                if self._rejection is None:
                    # Malformed request, an upgrade, or a callback error: uvicorn's own handling.
                    self._hand_error(exc)
                    return
            if self._rejection is not None:
                self._reject(*self._rejection)
                return
            if self._in_head:
                # Count the piece if the head may have started before it: a piece fed from
                # the idle or head state is all head bytes (at most the limit plus one).
                if self._heads_done == heads_before and not was_in_body:
                    self._head_bytes += len(piece)
                if len(self.url) > limits.max_url_bytes:
                    self._reject(414, f"request URL longer than {limits.max_url_bytes} bytes")
                    return
                if self._head_bytes > limits.max_header_bytes:
                    self._reject(431, self._head_message())
                    return
                if self._deadline is None:
                    self._arm(limits.header_timeout_seconds, self._head_timed_out)
            elif self._in_body and self._deadline is None:
                self._arm(limits.body_timeout_seconds, self._body_timed_out)

    def _hand_error(self, exc: Exception) -> None:
        """Replay uvicorn's handling of parser exceptions (400, or the WebSocket upgrade)."""
        import httptools

        if isinstance(exc, httptools.HttpParserUpgrade):
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if isinstance(exc, httptools.HttpParserError):
            self.logger.warning("Invalid HTTP request received.")
            self._disarm()
            self.send_400_response("Invalid HTTP request received.")
            return
        raise exc

    def handle_websocket_upgrade(self) -> None:
        # From here on the socket belongs to the WebSocket protocol and its own limits.
        self._disarm()
        self._forget_peer()
        super().handle_websocket_upgrade()

    # -- parser callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        self._header_bytes = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._header_bytes += len(url)
        if len(self.url) > self._limits.max_url_bytes:
            self._rejection = (414, f"request URL longer than {self._limits.max_url_bytes} bytes")
            raise _Rejected

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > self._limits.max_header_bytes:
            self._rejection = (431, self._head_message())
            raise _Rejected
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._in_body = True
        self._head_bytes = 0
        self._heads_done += 1
        self._disarm()
        super().on_headers_complete()
        # How the app cuts this connection when its client stopped reading (see
        # abort_connection_of); the request's task has not run yet, so it sees this.
        extensions: dict[str, Any] = self.scope.setdefault("extensions", {})
        extensions[ABORT_EXTENSION] = self._reset

    def _reset(self) -> None:
        """Cut the connection now, with a reset: ``SO_LINGER`` 0 makes the kernel drop what
        the client never read, where a plain close would keep the socket (and its full send
        buffer) trying to deliver it to a client that reads nothing."""
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    def on_message_complete(self) -> None:
        self._in_body = False
        self._disarm()
        super().on_message_complete()

    # -- timeouts --------------------------------------------------------------------------

    def _arm(self, delay: float, callback: Any) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(delay, callback)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if not self._received_any and not self._in_head:
            self.transport.close()  # never said anything: nothing to answer
            return
        seconds = self._limits.header_timeout_seconds
        self._reject(408, f"request head not received within {seconds:g} seconds")

    def _body_timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or not self._in_body:
            return
        seconds = self._limits.body_timeout_seconds
        cycle = self.cycle
        if cycle is not None and cycle.response_started:
            self.transport.close()
            return
        self._reject(408, f"request body not received within {seconds:g} seconds")

    # -- answering -------------------------------------------------------------------------

    def _head_message(self) -> str:
        return f"request headers larger than {self._limits.max_header_bytes} bytes"

    def _reject(self, status: int, detail: str) -> None:
        """Answer ``status`` with a JSON ``detail`` and close; the app sees a disconnect."""
        self._disarm()
        self._rejection = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # whatever the app still sends is dropped
            cycle.message_event.set()
        self.transport.write(_response(status, detail))
        self.transport.close()


_cached: tuple[Settings, HttpLimits] | None = None


#: The ASGI scope extension holding the connection's ``transport.abort``.
ABORT_EXTENSION = "livefeed.abort_connection"


def abort_connection_of(scope: MutableMapping[str, Any]) -> Callable[[], None] | None:
    """The way to cut the connection of an HTTP request served by :class:`LimitedHttpProtocol`
    at once (an RST, whatever is still buffered for the client), for a response that has
    ended but cannot finish because its client stopped reading (``app.live.sse``). None
    when the request came another way (an in-process test client)."""
    abort: Callable[[], None] | None = scope.get("extensions", {}).get(ABORT_EXTENSION)
    return abort


def _limits(app_state: dict[str, Any]) -> HttpLimits:
    """The limits of this process's settings (the lifespan's; the environment before it)."""
    global _cached
    state = app_state.get("livefeed")
    settings: Settings = state.settings if state is not None else load_settings()
    if _cached is None or _cached[0] is not settings:
        _cached = (settings, HttpLimits.from_settings(settings))
    return _cached[1]


def _response(status: int, detail: str, extra_headers: bytes = b"") -> bytes:
    body = json.dumps({"detail": detail}).encode()
    return b"".join(
        [
            STATUS_LINE[status],
            b"content-type: application/json\r\n",
            b"x-content-type-options: nosniff\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n",
            extra_headers,
            b"\r\n",
            body,
        ]
    )
