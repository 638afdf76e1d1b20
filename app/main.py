"""Application factory: ``create_app()`` builds a fresh app; its lifespan owns every resource."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from app import (
    __version__,
    cards,
    embeds,
    errors,
    lifecycle,
    login,
    openapi,
    page_cache,
    pages,
    studio,
    templating,
)
from app.api import accounts, entries, feeds, media, tokens
from app.brokers import from_url
from app.catchup import ReadBudget
from app.config import Settings, load_settings
from app.forwarded import ForwardedHeaders
from app.hub import Hub
from app.live import sse, team, ws
from app.logging import RequestContextMiddleware
from app.logging import configure as configure_logging
from app.media.library import MediaLibrary
from app.media.serve import media_app
from app.media.storage import make_storage
from app.metrics import Metrics, MetricsMiddleware
from app.metrics import router as metrics_router
from app.presence import ReaderPresence, count_store
from app.scheduler import Scheduler
from app.state import AppState
from app.store import Store
from app.store.accounts import AccountStore
from app.store.engine import make_engine
from app.team import TeamChannel, field_store
from app.watched import WatchedFeeds

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. ``settings`` defaults to the environment (``LIVEFEED_*``)."""
    settings = settings or load_settings()
    configure_logging(
        settings.log_format,
        settings.log_level,
        [settings.admin_token or "", settings.metrics_token or ""],
    )
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, object]]:
        store = Store(make_engine(settings.database_url))
        hub = Hub(
            store,
            from_url(settings.redis_url),
            store_poll_seconds=settings.store_poll_seconds,
            resync_seconds=settings.resync_seconds,
            window_events=settings.catchup_window_events,
            window_bytes=settings.catchup_window_bytes,
            read_budget=ReadBudget(settings.catchup_read_slots, settings.catchup_read_wait_seconds),
        )
        draining = asyncio.Event()
        # Before hub.start(): the broker hands notices to the channel from its first connect.
        team_channel = TeamChannel(
            hub.broker, field_store(settings.redis_url), settings.readers_interval_seconds
        )
        library = MediaLibrary(settings, store, make_storage(settings))
        state = AppState(
            settings=settings,
            store=store,
            accounts=AccountStore(store),
            hub=hub,
            media=library,
            watched=WatchedFeeds(store, hub, draining),
            team=team_channel,
            draining=draining,
        )
        # The team channel hears every entry write, drafts included (app/team.py).
        state.entry_listeners.append(team_channel.on_entry)
        app.state.livefeed = state
        metrics.bind(state)
        await hub.start()
        presence = ReaderPresence(
            hub, count_store(settings.redis_url), settings.readers_interval_seconds
        )
        presence.start()
        team_channel.start()
        scheduler = Scheduler(
            store, hub, settings.scheduler_interval_seconds, state.entry_listeners
        )
        scheduler.start()
        lifecycle.register(state)
        try:
            # Lifespan state: uvicorn hands it to the native WebSocket protocol too.
            yield {"livefeed": state, "livefeed.metrics": metrics}
        finally:
            lifecycle.unregister(state)
            metrics.bind(None)
            lifecycle.drain(state)
            await scheduler.stop()
            await presence.stop()
            await team_channel.stop()
            await hub.stop()
            await store.close()

    app = FastAPI(
        title="livefeed",
        version=__version__,
        description="Live blogs pushed over WebSocket and SSE. Reporters post; readers see it.",
        lifespan=lifespan,
    )
    errors.install(app)
    openapi.install(app)
    app.add_middleware(
        errors.BodySizeLimit,
        limit=settings.max_request_bytes,
        overrides=[
            (
                re.compile(media.UPLOAD_PATH),
                settings.max_upload_bytes + media.FORM_OVERHEAD_BYTES,
                "LIVEFEED_MAX_UPLOAD_BYTES",
            )
        ],
    )
    app.add_middleware(errors.NoSniff)
    app.state.metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(RequestContextMiddleware)  # the request id covers all the app does
    # Outermost: cached reader pages of watched feeds answer before routing (counted, not
    # access-logged; see page_cache.CachedPages).
    page_hits = {
        status: metrics.http_requests.labels("GET", "/feeds/{slug}", str(status))
        for status in (200, 304)
    }
    app.add_middleware(
        page_cache.CachedPages, state=app.state, on_hit=lambda status: page_hits[status].inc()
    )
    # Outermost of all: every layer sees the client address by one rule (app.forwarded).
    app.add_middleware(ForwardedHeaders, trusted=settings.forwarded_allow_ips)
    # Routes are matched in order, each router's in turn (FastAPI wraps every included
    # router and route, ~0.5 ms per request when the entries router came fifth): the
    # reporters' writes are the hottest routed requests, so their router goes first.
    app.include_router(entries.router)
    app.include_router(metrics_router)
    app.include_router(feeds.router)
    app.include_router(tokens.router)
    app.include_router(accounts.router)
    app.include_router(media.router)
    app.include_router(ws.router)
    app.include_router(sse.router)
    app.include_router(team.router)
    app.include_router(pages.router)
    app.include_router(embeds.router)
    app.include_router(studio.router)
    app.include_router(login.router)
    app.include_router(cards.router)
    app.mount("/static", templating.static_app(), name="static")
    if settings.media_backend == "local":
        app.mount("/media", media_app(settings.media_dir), name="media")

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses={503: {"description": "Not ready."}})
    async def readyz() -> JSONResponse:
        """Readiness: database and broker answer, and the process is not draining."""
        state: AppState = app.state.livefeed
        checks: dict[str, str] = {}
        try:
            await state.store.ping()
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {type(exc).__name__}"
        try:
            await state.hub.broker.ping()
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"error: {type(exc).__name__}"
        if state.draining.is_set():
            checks["process"] = "draining"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    return app
