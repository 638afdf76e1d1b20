"""``GET /sse/feeds/{slug}``: the WebSocket's events as Server-Sent Events.

An adapter over :class:`app.live.session.StreamSession`. Each event carries ``id: REV``
so EventSource's automatic reconnect resumes through ``Last-Event-ID``; ``?since=`` does
the same for a first connection. A comment line every ``LIVEFEED_HEARTBEAT_SECONDS`` keeps
proxies from timing the stream out. Over the per-address cap or the process's live budget
the request is refused before the stream starts (429 / 503 with ``Retry-After``,
:func:`app.live.access.reserve`). A session refused before it went live is answered
with its close code's HTTP status (:mod:`app.live.close_codes`; ``Retry-After`` when the
code has a retry hint); otherwise a close (slow reader, drain) ends the stream, and the
browser reconnects; a client that does not read the end within a heartbeat is cut.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from app.http_limits import abort_connection_of
from app.live import access
from app.live.close_codes import BY_CODE
from app.live.session import EventQueue, StreamSession, app_session
from app.metrics import metrics_of
from app.openapi import errors
from app.state import AppState

router = APIRouter()

RETRY_MS = 2000


class SessionStream(StreamingResponse):
    """A streaming response that ends its session however the response ends — including
    when the client is gone before the body is ever iterated (then a generator's
    ``finally`` would never run, and the session would stay attached and admitted).

    Once the session has ended (4008, 1012…), the client gets ``grace`` seconds (one
    heartbeat) to read what is buffered and the end of the response; a client that does
    not is cut (:func:`app.http_limits.abort_connection_of`), so that one that stopped
    reading holds neither its socket nor its place in the per-address cap — as a WebSocket
    reader that does not answer its close frame is cut after one heartbeat."""

    def __init__(
        self,
        session: StreamSession,
        slot: access.AddressSlot,
        queue: EventQueue,
        grace: float,
        content: AsyncIterator[bytes],
        **kwargs: Any,
    ):
        super().__init__(content, **kwargs)
        self.session = session
        self.slot = slot
        self.queue = queue
        self.grace = grace

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        abort = abort_connection_of(scope)
        watchdog = None
        if abort is not None:
            watchdog = asyncio.get_running_loop().create_task(self._cut_if_stuck(abort))
        try:
            await super().__call__(scope, receive, send)
        finally:
            if watchdog is not None:
                watchdog.cancel()
            self.session.transport_closed()
            self.slot.release()

    async def _cut_if_stuck(self, abort: Callable[[], None]) -> None:
        await self.queue.ended.wait()
        await asyncio.sleep(self.grace)
        abort()  # still here: the response could not finish, its client does not read


@router.get(
    "/sse/feeds/{slug}",
    response_class=StreamingResponse,
    tags=["live"],
    responses=errors(400, 403, 404, 429, 503),
)
async def feed_events(
    request: Request,
    slug: str,
    since: int | None = Query(default=None, description="Resume after this rev."),
    last_event_id: str | None = Header(default=None),
) -> StreamingResponse:
    state: AppState = request.app.state.livefeed
    if last_event_id is not None:
        try:
            since = int(last_event_id)
        except ValueError:
            raise HTTPException(400, "Last-Event-ID must be a rev (an integer)") from None
    slot = access.reserve(state, access.client_ip(request))
    if isinstance(slot, access.Refusal):
        raise HTTPException(slot.status, slot.reason, headers=slot.headers)
    queue = EventQueue()
    session = app_session(
        state, request, slug, queue, metrics=metrics_of(request.app), transport="sse"
    )
    try:
        await session.open(since)
    except BaseException:
        session.transport_closed()
        slot.release()
        raise
    refusal = BY_CODE.get(session.close_code or 0) if session.refused else None
    if refusal is not None and refusal.http_status is not None:
        session.transport_closed()
        slot.release()
        raise HTTPException(
            refusal.http_status,
            session.close_reason,
            headers={"Retry-After": str(refusal.retry_after)} if refusal.retry_after else None,
        )

    async def stream() -> AsyncIterator[bytes]:
        yield b"retry: %d\n\n" % RETRY_MS
        while True:
            batch = await queue.next_batch(timeout=state.settings.heartbeat_seconds)
            if batch is None:
                return
            if not batch:
                yield b": keep-alive\n\n"
                continue
            yield b"".join(
                event.sse
                if event.kind != "hello"
                else b"event: hello\ndata: %s\n\n" % event.payload
                for event in batch
            )

    return SessionStream(
        session,
        slot,
        queue,
        state.settings.heartbeat_seconds,
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
