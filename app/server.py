"""uvicorn configuration: uvloop, httptools with limits (:mod:`app.http_limits`), bounded
reader frames, graceful shutdown. ``livefeed serve`` runs it on
:class:`app.live.uvicorn_bridge.LivefeedServer` (uvicorn's server plus the accept burst).

Draining on SIGTERM is installed by the app itself (:mod:`app.lifecycle`), so it works
in every worker process too."""

from __future__ import annotations

import uvicorn

from app.config import Settings
from app.live.uvicorn_bridge import ASGI_ENGINE_PROTOCOL


def uvicorn_config(settings: Settings, *, host: str, port: int, workers: int = 1) -> uvicorn.Config:
    return uvicorn.Config(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        # uvicorn's httptools protocol plus size limits, timeouts and a connection budget.
        http="app.http_limits:LimitedHttpProtocol",
        timeout_keep_alive=settings.keepalive_timeout_seconds,
        # native: /ws/feeds/… on the fast path, other WebSocket paths through ASGI (both
        # over the websockets library's sans-I/O protocol; see app.live.uvicorn_bridge).
        ws=(
            "app.live.native_ws:FeedSocketProtocol"
            if settings.ws_engine == "native"
            else ASGI_ENGINE_PROTOCOL
        ),
        # Readers send nothing of interest: cap their frames; ping to find dead peers.
        ws_max_size=settings.client_max_message_bytes,
        ws_ping_interval=settings.heartbeat_seconds,
        ws_ping_timeout=settings.heartbeat_seconds,
        # Events are small; compressing each one per reader costs more CPU than it saves.
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=int(settings.shutdown_timeout_seconds),
        # The client address rule is the app's own (app.forwarded), for every transport.
        proxy_headers=False,
        log_level=settings.log_level,
        access_log=False,
        server_header=False,
    )
