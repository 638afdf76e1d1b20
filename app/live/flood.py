"""The client flood limit of one live stream: data frames and pings counted together.

Readers have nothing to say, so a client that sends more than
``LIVEFEED_CLIENT_MAX_MESSAGES_PER_MINUTE`` frames (messages and pings alike) in a minute is
closed with 1008. One :class:`MessageRate` per connection is *the* count: the stream
session owns it (:meth:`app.live.session.StreamSession.client_message`), and a WebSocket
protocol that answers pings itself counts them through the session, never on a counter
of its own next to it (a mixed flood would otherwise get twice the limit).
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: The flood window, in seconds.
WINDOW_SECONDS = 60.0


class MessageRate:
    """Counts a client's frames per minute-long window (the window restarts with the first
    frame after it ends)."""

    __slots__ = ("_clock", "_count", "_started", "per_minute")

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._started = 0.0
        self._count = 0

    def count(self) -> bool:
        """Count one frame; False once the window holds more than ``per_minute``."""
        now = self._clock()
        if now - self._started > WINDOW_SECONDS:
            self._started, self._count = now, 0
        self._count += 1
        return self._count <= self.per_minute
