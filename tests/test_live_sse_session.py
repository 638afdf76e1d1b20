"""SSE over the stream session: ended however its response ends; refusals as HTTP statuses
(both databases)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.catchup import CatchupOverloaded
from app.hub import Event
from app.live import session as session_module
from app.live.close_codes import TRY_AGAIN_LATER
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


async def test_sse_over_the_catch_up_budget_is_503_with_retry_after(
    app: FastAPI, client: httpx.AsyncClient, feed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    state: AppState = app.state.livefeed

    async def overloaded(feed: str, since: int | None, current: int) -> list[Event]:
        raise CatchupOverloaded("catch-up reads over budget")

    monkeypatch.setitem(session_module._providers, state, overloaded)
    response = await client.get(f"/sse/feeds/{feed}?since=0")
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == str(TRY_AGAIN_LATER.retry_after)
    assert response.json() == {"detail": TRY_AGAIN_LATER.reason}
    assert state.hub.subscriber_count(feed) == 0
    assert not state.connections_by_ip, state.connections_by_ip
