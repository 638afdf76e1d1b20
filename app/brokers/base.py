"""The Broker interface: a wake-up channel between processes, nothing more.

Guarantee: *none* about delivery. A broker may drop, delay or (after a reconnect) miss
messages; it never invents or alters one. The hub treats every message as a hint that a
feed reached ``rev`` and reads anything it missed from the store, so readers never depend
on the broker being reliable. What a broker must do is *tell* the hub when its connection
comes back (``on_reconnect``), because messages may have been missed while it was down.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from app.events import Change

MessageHandler = Callable[[Change], None]
StateHandler = Callable[[bool], None]  # called with True on (re)connect, False on loss
#: Receives a notice's bytes (see :meth:`Broker.publish_notice`).
NoticeHandler = Callable[[bytes], None]


class BrokerUnavailable(Exception):
    """The broker could not take a publish; the change is safe in the store regardless."""


class Broker(Protocol):
    #: True while the broker believes it can deliver messages between processes.
    connected: bool
    #: True if every process that shares the store shares this broker in-process.
    in_process: bool

    async def start(self, on_message: MessageHandler, on_state: StateHandler) -> None:
        """Connect (or begin reconnecting in the background) and start delivering."""

    async def stop(self) -> None: ...

    async def publish(self, change: Change) -> None:
        """Announce a committed change to other processes. May raise BrokerUnavailable."""

    async def subscribe(self, feed: str) -> None:
        """Start receiving ``feed``'s messages (idempotent)."""

    async def unsubscribe(self, feed: str) -> None:
        """Stop receiving ``feed``'s messages (idempotent)."""

    async def ping(self) -> None:
        """Raise if the broker is not reachable now (used by /readyz)."""

    def on_notice(self, handler: NoticeHandler) -> None:
        """Hand every notice published by any process (this one included, when it goes
        through a shared broker) to ``handler``; set before :meth:`start`."""

    async def publish_notice(self, payload: bytes) -> None:
        """Send ``payload`` to every process's notice handler: the channel for what is not
        a feed change (the studio's team channel, :mod:`app.team`). Fire-and-forget, like
        everything here; never on a feed's channel. The in-process broker sends nothing
        (its one process handles its own notices). May raise BrokerUnavailable."""
