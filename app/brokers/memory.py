"""In-process broker: the embedded default for a single server process."""

from __future__ import annotations

from app.brokers.base import MessageHandler, NoticeHandler, StateHandler
from app.events import Change


class MemoryBroker:
    """Delivers nothing between processes, because there is only one.

    The hub already delivers a process's own changes locally the moment they commit, so
    with one process there is nothing left for a broker to carry; this class exists so
    the hub is written once against the :class:`~app.brokers.base.Broker` interface.
    """

    connected = True
    in_process = True

    async def start(self, on_message: MessageHandler, on_state: StateHandler) -> None:
        on_state(True)

    async def stop(self) -> None:
        return None

    async def publish(self, change: Change) -> None:
        return None

    async def subscribe(self, feed: str) -> None:
        return None

    async def unsubscribe(self, feed: str) -> None:
        return None

    async def ping(self) -> None:
        return None

    def on_notice(self, handler: NoticeHandler) -> None:
        return None

    async def publish_notice(self, payload: bytes) -> None:
        return None
