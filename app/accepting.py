"""Accepting connections when thousands arrive at once (a restart storm).

uvloop (libuv) takes one connection from a listening socket per event-loop turn, and a
turn also runs everything else that is ready. When a restarted process's readers all
reconnect within a second or two, the kernel's accept queue (the listen backlog) fills:
each connection in it waits behind every one before it, at one per turn, and one that
arrives while it is full has its SYN dropped and retried a second later. A reporter's
POST sent into that queue was answered after 0.5–2 s, though it needs a few milliseconds
(``bench/storm.py``: always the first POST after the restart).

:class:`AcceptBurst` empties the queue instead. After each connection uvloop accepts, it
accepts up to :data:`BURST` more itself, non-blocking, from a duplicate of the listening
descriptor, and looks at each one's first bytes without consuming them (``MSG_PEEK``):

* a live stream request (``GET /ws/``, a WebSocket reader) waits in a FIFO, and
  :data:`PACE` of them per loop turn are handed to uvloop
  (``loop.connect_accepted_socket``): about the rate uvloop accepts at by itself, so
  readers' handshakes go on as they did, in arrival order, and a turn stays short;
* anything else (an API call, a page, a connection whose bytes have not arrived yet) is
  handed to uvloop at once, so it is served ahead of the waiting handshakes.

Where a connection waits changes; what it is answered does not: the same protocol class
(uvicorn's, with :mod:`app.http_limits`) serves it with the same limits.

Bounds: the FIFO holds at most :data:`MAX_WAITING` sockets. The burst takes a connection
only while the connection budget (``room`` from :mod:`app.http_limits`) has more than
:data:`MARGIN` places left besides those of the sockets it holds or is handing over: a
connection it hands over is counted a turn or two later, and uvloop's own accept of a later
one must not take its place. Near the budget, connections are accepted as without the burst,
one per turn in arrival order, and the connection that finds the budget full is the newest.
Past its bounds the kernel's queue holds the rest, as without it.
:func:`close` (at the start of the server's shutdown) closes the duplicate descriptors and
the waiting sockets, whose clients then retry elsewhere, as they do for a closed port.

One burst per uvicorn server (keyed by its ``ServerState``): :func:`install` is called by
:class:`app.server.LivefeedServer` once it listens. Under ``--workers N`` uvicorn's own
supervisor builds the servers, and each worker accepts one connection per turn as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import weakref
from collections import deque
from collections.abc import Iterable
from typing import Any, Protocol

log = logging.getLogger(__name__)

#: Connections accepted by one burst (after each connection uvloop accepts itself).
BURST = 64
#: Places of the connection budget the burst leaves to uvloop's own accept.
MARGIN = 2 * BURST
#: Waiting stream requests handed to uvloop per loop turn.
PACE = 2
#: Stream requests that wait at most at once (each holds a descriptor).
MAX_WAITING = 4096
#: The first bytes of a request that waits its turn: a WebSocket live stream.
STREAM_REQUEST = b"GET /ws/"


class ServedProtocol(Protocol):
    """What the burst needs of the protocol of a connection uvloop accepted: enough to
    build a sibling for each connection it accepts itself (uvicorn's protocol classes are
    built with exactly these)."""

    config: Any
    server_state: Any
    app_state: dict[str, Any]
    loop: asyncio.AbstractEventLoop


class AcceptBurst:
    """Accepts from the listening sockets of one server; see the module docstring."""

    def __init__(self, listeners: Iterable[socket.socket]) -> None:
        self._listeners = list(listeners)
        self._waiting: deque[socket.socket] = deque()
        self._scheduled = False
        self._protocol: ServedProtocol | None = None
        self._room = 0  # the budget's room at the last accept
        self._in_flight = 0  # handed to uvloop, connection_made not run yet

    @property
    def waiting(self) -> int:
        """Stream requests accepted and not yet handed to uvloop."""
        return len(self._waiting)

    def after_accept(self, protocol: ServedProtocol, room: int) -> None:
        """Called for each connection uvloop hands a protocol; ``room``: connections the
        budget still allows. Runs the burst at most once per loop turn. (Each connection
        handed on still meets the budget's own check when it is made: this bound only keeps
        the burst from holding waiting sockets the budget has no room for.)"""
        self._protocol = protocol
        self._room = room
        if not self._scheduled:
            self._scheduled = True
            protocol.loop.call_soon(self._run)

    def close(self) -> None:
        """Stop accepting: close the duplicate descriptors and every waiting socket."""
        listeners, self._listeners = self._listeners, []
        for listener in listeners:
            listener.close()
        while self._waiting:
            self._waiting.popleft().close()

    def _run(self) -> None:
        self._scheduled = False
        protocol = self._protocol
        if protocol is None or not self._listeners:
            return
        loop = protocol.loop
        waiting = self._waiting
        taken = 0
        for listener in self._listeners:
            # Waiting and handed-over sockets are not counted connections yet, but will be.
            while (
                taken < BURST
                and self._room - len(waiting) - self._in_flight > MARGIN
                and len(waiting) < MAX_WAITING
            ):
                try:
                    conn, _address = listener.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as exc:
                    # EMFILE and the like: leave the rest to uvloop's own accept.
                    log.debug("accept burst stopped: %s", exc)
                    break
                taken += 1
                conn.setblocking(False)
                if _first_bytes(conn) == STREAM_REQUEST:
                    waiting.append(conn)
                else:
                    self._hand_over(loop, protocol, conn)
        for _ in range(min(PACE, len(waiting))):
            self._hand_over(loop, protocol, waiting.popleft())
        if waiting:
            self._scheduled = True
            loop.call_soon(self._run)

    def _hand_over(
        self, loop: asyncio.AbstractEventLoop, protocol: ServedProtocol, conn: socket.socket
    ) -> None:
        """Let uvloop serve ``conn`` with a protocol built like ``protocol`` was."""
        cls: Any = type(protocol)

        def build() -> asyncio.Protocol:
            built: asyncio.Protocol = cls(
                config=protocol.config,
                server_state=protocol.server_state,
                app_state=protocol.app_state,
                _loop=loop,
            )
            return built

        self._in_flight += 1
        task = loop.create_task(loop.connect_accepted_socket(build, conn))
        task.add_done_callback(self._landed)

    def _landed(self, task: asyncio.Task[Any]) -> None:
        """A hand-over is done: its connection_made ran (it is counted, or was refused).
        Until the next accept says what the budget has left, take its place as gone (its
        own connection_made may have said so already: counting it twice only makes the
        burst more careful)."""
        self._in_flight -= 1
        self._room -= 1
        _report(task)


def _first_bytes(conn: socket.socket) -> bytes:
    try:
        return conn.recv(len(STREAM_REQUEST), socket.MSG_PEEK)
    except OSError:
        return b""  # nothing yet (or an error the protocol will meet): served at once


def _report(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        # The peer left before uvloop took the socket: nothing to answer.
        log.debug("accepted connection not served: %s", task.exception())


_bursts: weakref.WeakKeyDictionary[Any, AcceptBurst] = weakref.WeakKeyDictionary()


def install(server_state: Any, listening: Iterable[Any]) -> AcceptBurst | None:
    """Start bursting for the server owning ``server_state``, from duplicates of its
    ``listening`` sockets (uvloop's socket objects: anything with ``fileno()``). None
    when there is nothing to listen on."""
    listeners = []
    for sock in listening:
        with contextlib.suppress(OSError):
            dup = socket.socket(fileno=os.dup(sock.fileno()))
            dup.setblocking(False)
            listeners.append(dup)
    if not listeners:
        return None
    burst = _bursts[server_state] = AcceptBurst(listeners)
    return burst


def of(server_state: Any) -> AcceptBurst | None:
    return _bursts.get(server_state)


def close(server_state: Any) -> None:
    burst = _bursts.pop(server_state, None)
    if burst is not None:
        burst.close()
