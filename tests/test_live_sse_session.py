"""An SSE stream's session is ended however its response ends (both databases)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
from fastapi import FastAPI

from app.state import AppState


async def test_session_is_released_when_the_client_is_gone_before_the_body(
    app: FastAPI, client: httpx.AsyncClient, feed: str
) -> None:
    state: AppState = app.state.livefeed
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": f"/sse/feeds/{feed}",
        "raw_path": f"/sse/feeds/{feed}".encode(),
        "query_string": b"since=0",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    started = False

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()  # the client never says anything
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        nonlocal started
        if message["type"] == "http.response.start":
            started = True
            raise OSError("peer gone before the response started")

    with contextlib.suppress(Exception):
        await app(scope, receive, send)
    assert started, "the stream was opened (admitted, attached) before the send failed"
    assert state.hub.subscriber_count(feed) == 0
    assert not state.connections_by_ip, state.connections_by_ip
