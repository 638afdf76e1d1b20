"""``GET /ws/feeds/{slug}?since=REV``: hello, catch-up, then live events as text frames.

Close codes: 1012 server restarting (reconnect elsewhere), 4008 slow reader (send buffer
over ``LIVEFEED_SEND_BUFFER_BYTES``), 1008 policy (more than
``LIVEFEED_CLIENT_MAX_MESSAGES_PER_MINUTE`` client frames, or the per-IP connection cap),
1009 a client frame over ``LIVEFEED_CLIENT_MAX_MESSAGE_BYTES``, 4404 unknown feed, 4403
origin not allowed to embed this feed. In every case but 4404/4403 a client reconnects
with ``since`` = the last rev it received.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from fastapi import APIRouter, Query, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from app.live.access import admit, release
from app.live.close_codes import CLOSE_POLICY, CLOSE_SLOW_READER, CLOSE_UNKNOWN_FEED
from app.live.connection import LiveConnection
from app.metrics import metrics_of
from app.state import AppState
from app.watched import current_feed

router = APIRouter()


@router.websocket("/ws/feeds/{slug}")
async def feed_socket(
    websocket: WebSocket, slug: str, since: int | None = Query(default=None)
) -> None:
    state: AppState = websocket.app.state.livefeed
    feed = await current_feed(state, slug)
    if feed is None:
        await websocket.accept()
        await websocket.close(CLOSE_UNKNOWN_FEED, f"feed {slug!r} not found")
        return
    refusal = admit(state, websocket, feed)
    if refusal is not None:
        await websocket.accept()
        await websocket.close(*refusal)
        return
    await websocket.accept()
    settings = state.settings
    connection = LiveConnection(slug, settings.send_buffer_bytes)
    tasks: list[asyncio.Task[None]] = []
    metrics = metrics_of(websocket.app)
    metrics.open_connections.labels("websocket").inc()
    if since is not None:
        metrics.catchups_served.labels("websocket").inc()
    try:
        await connection.start(state.hub, state.store, since, settings.catchup_max_events)
        tasks = [
            asyncio.create_task(_write(websocket, connection)),
            asyncio.create_task(
                _read(websocket, connection, settings.client_max_messages_per_minute)
            ),
            asyncio.create_task(_closed(connection)),
        ]
        # Whichever ends first ends the connection: the client went away (reader), or a
        # close was requested (slow reader, drain, flood) — even while the writer is stuck
        # behind a client that does not read.
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    except WebSocketDisconnect:
        pass
    finally:
        state.hub.detach(slug, connection)
        metrics.open_connections.labels("websocket").dec()
        if connection.close_code == CLOSE_SLOW_READER:
            metrics.slow_reader_disconnects.labels("websocket").inc()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        try:
            if (
                connection.close_code is not None
                and websocket.application_state != WebSocketState.DISCONNECTED
            ):
                # The close frame waits for room in the transport: a reader that does not
                # read gets it when it reads again (or the socket dies). Meanwhile this
                # coroutine holds nothing else: the connection is detached and emptied.
                with contextlib.suppress(Exception):
                    await websocket.close(connection.close_code, connection.close_reason)
        finally:
            release(state, websocket)


async def _closed(connection: LiveConnection) -> None:
    await connection.closed.wait()


async def _write(websocket: WebSocket, connection: LiveConnection) -> None:
    while True:
        batch = await connection.next_batch()
        if batch is None:
            return
        for event in batch:
            await websocket.send_text(event.text)


async def _read(websocket: WebSocket, connection: LiveConnection, per_minute: int) -> None:
    """Readers have nothing to say; bound what they send anyway (size by the server's
    ``ws_max_size``, rate here) and notice when they go away."""
    window_start = time.monotonic()
    count = 0
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        now = time.monotonic()
        if now - window_start > 60:
            window_start, count = now, 0
        count += 1
        if count > per_minute:
            connection.close(CLOSE_POLICY, "too many messages")
            return
