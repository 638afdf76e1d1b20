"""Brokers carry "feed X reached rev N" between processes; see :mod:`app.brokers.base`."""

from __future__ import annotations

from app.brokers.base import Broker, BrokerUnavailable
from app.brokers.memory import MemoryBroker


def from_url(url: str | None) -> Broker:
    """A Redis broker for ``redis://…`` URLs; the in-process broker when ``url`` is None."""
    if not url:
        return MemoryBroker()
    from app.brokers.redis import RedisBroker

    return RedisBroker(url)


__all__ = ["Broker", "BrokerUnavailable", "MemoryBroker", "from_url"]
