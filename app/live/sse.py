"""``GET /sse/feeds/{slug}``: the WebSocket's events as Server-Sent Events.

Each event carries ``id: REV`` so EventSource's automatic reconnect resumes through
``Last-Event-ID``; ``?since=`` does the same for a first connection. A comment line every
``LIVEFEED_HEARTBEAT_SECONDS`` keeps proxies from timing the stream out. When the
connection is cut (slow reader, drain), the stream ends and the browser reconnects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from app.live.access import admit, release
from app.live.close_codes import CLOSE_SLOW_READER, http_status_of
from app.live.connection import LiveConnection
from app.metrics import metrics_of
from app.state import AppState
from app.watched import current_feed

router = APIRouter()

RETRY_MS = 2000


@router.get("/sse/feeds/{slug}", response_class=StreamingResponse, tags=["live"])
async def feed_events(
    request: Request,
    slug: str,
    since: int | None = Query(default=None, description="Resume after this rev."),
    last_event_id: str | None = Header(default=None),
) -> StreamingResponse:
    state: AppState = request.app.state.livefeed
    feed = await current_feed(state, slug)
    if feed is None:
        raise HTTPException(404, f"feed {slug!r} not found")
    if last_event_id is not None:
        try:
            since = int(last_event_id)
        except ValueError:
            raise HTTPException(400, "Last-Event-ID must be a rev (an integer)") from None
    refusal = admit(state, request, feed)
    if refusal is not None:
        raise HTTPException(http_status_of(refusal[0]), refusal[1])
    connection = LiveConnection(slug, state.settings.send_buffer_bytes)
    try:
        await connection.start(state.hub, state.store, since, state.settings.catchup_max_events)
    except BaseException:
        state.hub.detach(slug, connection)
        release(state, request)
        raise
    metrics = metrics_of(request.app)
    if since is not None:
        metrics.catchups_served.labels("sse").inc()

    async def stream() -> AsyncIterator[bytes]:
        metrics.open_connections.labels("sse").inc()
        try:
            yield b"retry: %d\n\n" % RETRY_MS
            while True:
                batch = await connection.next_batch(timeout=state.settings.heartbeat_seconds)
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
        finally:
            state.hub.detach(slug, connection)
            release(state, request)
            metrics.open_connections.labels("sse").dec()
            if connection.close_code == CLOSE_SLOW_READER:
                metrics.slow_reader_disconnects.labels("sse").inc()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
