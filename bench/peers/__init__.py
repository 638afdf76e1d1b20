"""Systems under test, by name. Each module holds its server (if any) and its driver."""

from __future__ import annotations

import importlib

from bench.peers.base import Peer

_REGISTRY = {
    "nchan": ("bench.peers.nchan", "Nchan"),
    "fastapi-tutorial": ("bench.peers.tutorial", "Tutorial"),
    "socketio": ("bench.peers.sio_redis", "SocketIO"),
    "broadcaster": ("bench.peers.broadcaster_redis", "Broadcaster"),
    "floor": ("bench.peers.floor", "Floor"),
    "livefeed-1": ("bench.peers.livefeed", "Livefeed"),
    "livefeed-2": ("bench.peers.livefeed", "Livefeed2"),
    "livefeed-1-asgi": ("bench.peers.livefeed", "LivefeedAsgi"),
    "livefeed-1-media": ("bench.peers.livefeed", "LivefeedMedia"),
    "livefeed-2-asgi": ("bench.peers.livefeed", "Livefeed2Asgi"),
}
NAMES = list(_REGISTRY)


def peer_class(name: str) -> type[Peer]:
    module, cls = _REGISTRY[name]
    return getattr(importlib.import_module(module), cls)  # type: ignore[no-any-return]
