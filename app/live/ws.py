"""``GET /ws/feeds/{slug}?since=REV`` through ASGI: an adapter over :class:`StreamSession`.

The portable engine (``LIVEFEED_WS_ENGINE=asgi``; :mod:`app.live.native_ws` is the fast
one). The session decides everything (admission, catch-up, bound, close codes: see
:mod:`app.live.close_codes`); this module moves its events into text frames, counts the
client's messages against the session's flood limit (and has the protocol count the
pings it answers on that same count: :func:`app.live.uvicorn_bridge.count_pings_with`),
and closes with the session's code.

Over the per-address cap or the process's live budget the handshake is refused before the
upgrade (429 / 503 with ``Retry-After``, :func:`app.live.access.reserve`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from fastapi import APIRouter, Query, WebSocket
from fastapi.responses import PlainTextResponse
from starlette.websockets import WebSocketDisconnect, WebSocketState

from app.live import access, uvicorn_bridge
from app.live.session import EventQueue, StreamSession, app_session
from app.metrics import metrics_of
from app.state import AppState

router = APIRouter()


@router.websocket("/ws/feeds/{slug}")
async def feed_socket(
    websocket: WebSocket, slug: str, since: int | None = Query(default=None)
) -> None:
    state: AppState = websocket.app.state.livefeed
    slot = access.reserve(state, access.client_ip(websocket))
    if isinstance(slot, access.Refusal):
        # Before the upgrade: an HTTP answer, and the socket is closed at once.
        await websocket.send_denial_response(
            PlainTextResponse(slot.reason, slot.status, headers=slot.headers)
        )
        return
    try:
        await _serve(websocket, state, slug, since)
    finally:
        slot.release()


async def _serve(websocket: WebSocket, state: AppState, slug: str, since: int | None) -> None:
    queue = EventQueue()
    session = app_session(
        state, websocket, slug, queue, metrics=metrics_of(websocket.app), transport="websocket"
    )
    # One flood count for the client's pings (answered by the protocol) and messages.
    uvicorn_bridge.count_pings_with(websocket.scope, session.client_message)
    try:
        await websocket.accept()
        await session.open(since)
        if session.close_code is None:
            # Whichever ends first ends the connection: the client went away (reader), or
            # a close was requested (slow reader, drain, flood) — even while the writer is
            # stuck behind a client that does not read.
            await until_one_ends(
                send_batches(websocket, queue), _read(websocket, session), queue.ended.wait()
            )
    except WebSocketDisconnect:
        pass
    finally:
        try:
            if (
                session.close_code is not None
                and websocket.application_state != WebSocketState.DISCONNECTED
            ):
                # The close frame waits for room in the transport: a reader that does not
                # read gets it when it reads again (or the socket dies). Meanwhile this
                # coroutine holds nothing else: the session is detached and emptied.
                with contextlib.suppress(Exception):
                    await websocket.close(session.close_code, session.close_reason)
        finally:
            session.transport_closed()


async def until_one_ends(*jobs: Coroutine[Any, Any, object]) -> None:
    """Run ``jobs`` as tasks until one of them returns (or raises); then cancel the others
    and wait for every one, so none outlives the connection. Shared by the ASGI WebSocket
    adapters (feed streams here, the team channel in :mod:`app.live.team`)."""
    tasks = [asyncio.create_task(job) for job in jobs]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def send_batches(websocket: WebSocket, queue: EventQueue) -> None:
    """Send each batch as text frames; return once the queue's owner ended it."""
    while True:
        batch = await queue.next_batch()
        if batch is None:
            return
        for event in batch:
            await websocket.send_text(event.text)


async def _read(websocket: WebSocket, session: StreamSession) -> None:
    """Readers have nothing to say; the session bounds what they send anyway (size by the
    server's ``ws_max_size``, rate by the session) and this notices when they go away."""
    while session.close_code is None:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        session.client_message()
