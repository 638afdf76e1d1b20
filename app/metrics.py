"""Prometheus metrics: one registry per app, served at ``GET /metrics``.

Every series is per process; Prometheus sums them across replicas. Run one worker per
container/port (scale by replicas), so that each scrape sees one whole process.

Series (all per process):

- ``livefeed_open_connections{transport}``: live readers connected now (websocket, sse).
- ``livefeed_deliveries_total``: events handed to readers (one per reader per event).
- ``livefeed_events_fanned_out_total``: events fanned out by this process's hub.
- ``livefeed_publish_delivery_latency_seconds``: histogram, from the writer's publish (just
  after commit) to the event being queued for this process's readers.
- ``livefeed_slow_reader_disconnects_total{transport}``: readers cut off for falling behind.
- ``livefeed_catchups_served_total{transport}``: streams that resumed with ``since`` or
  ``Last-Event-ID`` and were served their catch-up (possibly empty) or a ``reset``;
  counted by the stream session, so it means the same for every transport.
- ``livefeed_hub_catchups_total``: gap fills the hub read from the store's change log.
- ``livefeed_catchup_store_reads_total``: catch-up reads of the change log (older than the
  in-memory window; one per feed however many readers wait on it, see ``app/catchup.py``).
- ``livefeed_catchup_refused_total``: catch-up reads refused for want of a read slot (the
  readers waiting on them were closed 1013 / answered 503).
- ``livefeed_broker_reconnects_total``, ``livefeed_broker_connected``: Redis connection.
- ``livefeed_draining``: 1 after SIGTERM, until the process exits.
- ``livefeed_http_requests_total{method,route,status}``: HTTP responses. ``route`` is the
  route template (``/api/feeds/{slug}``), never the raw path, so the label set stays bounded.

The latency is wall-clock time between two processes when the change came from another
one (the publish time travels in the broker message), so it includes clock skew between
hosts; on one host, and with NTP, it is the real figure.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.openapi import errors
from app.tokens import same_token

if TYPE_CHECKING:
    from app.hub import Event
    from app.state import AppState

TRANSPORTS = ("websocket", "sse")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    """The app's metrics. Counters here are updated by hooks in the hub and transports;
    the rest is read from the running app at scrape time (:class:`_StateCollector`)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.open_connections = Gauge(
            "livefeed_open_connections", "Live readers connected now", ["transport"], registry=r
        )
        self.deliveries = Counter(
            "livefeed_deliveries", "Events handed to readers (one per reader per event)", registry=r
        )
        self.fanned_out = Counter(
            "livefeed_events_fanned_out", "Events fanned out by this process's hub", registry=r
        )
        self.delivery_latency = Histogram(
            "livefeed_publish_delivery_latency_seconds",
            "From the writer's publish (after commit) to the event being queued for readers",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.slow_reader_disconnects = Counter(
            "livefeed_slow_reader_disconnects",
            "Readers closed for falling behind their send buffer",
            ["transport"],
            registry=r,
        )
        self.catchups_served = Counter(
            "livefeed_catchups_served",
            "Readers that resumed with since/Last-Event-ID (catch-up from the store)",
            ["transport"],
            registry=r,
        )
        self.http_requests = Counter(
            "livefeed_http_requests",
            "HTTP responses by method, route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        for transport in TRANSPORTS:
            self.open_connections.labels(transport)
            self.slow_reader_disconnects.labels(transport)
            self.catchups_served.labels(transport)
        self._collector = _StateCollector()
        r.register(self._collector)

    def bind(self, state: AppState | None) -> None:
        """Attach to (or, with None, detach from) the running app's hub and broker."""
        self._collector.state = state
        if state is not None:
            state.hub.on_delivered = self.on_delivered

    def on_delivered(self, event: Event, readers: int) -> None:
        """Hub hook: ``event`` was just queued for ``readers`` local readers."""
        self.fanned_out.inc()
        if readers:
            self.deliveries.inc(readers)
        origin_ns: int = getattr(event, "origin_ns", 0)
        if origin_ns:
            self.delivery_latency.observe(max(0, time.time_ns() - origin_ns) / 1e9)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StateCollector(Collector):
    """Series read from the app's state at scrape time."""

    def __init__(self) -> None:
        self.state: AppState | None = None

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        state = self.state
        if state is None:
            return
        broker = state.hub.broker
        reconnects = CounterMetricFamily(
            "livefeed_broker_reconnects", "Broker connection recovered after a loss"
        )
        reconnects.add_metric([], float(getattr(broker, "reconnects", 0)))
        yield reconnects
        connected = GaugeMetricFamily(
            "livefeed_broker_connected", "1 while the broker connection is up"
        )
        connected.add_metric([], 1.0 if broker.connected else 0.0)
        yield connected
        catchups = CounterMetricFamily(
            "livefeed_hub_catchups", "Gap fills the hub read from the store's change log"
        )
        catchups.add_metric([], float(state.hub.catchups))
        yield catchups
        budget = state.hub.read_budget
        reads = CounterMetricFamily(
            "livefeed_catchup_store_reads",
            "Catch-up reads of the change log (one per feed for all readers waiting on it)",
        )
        reads.add_metric([], float(budget.reads))
        yield reads
        refused = CounterMetricFamily(
            "livefeed_catchup_refused", "Catch-up reads refused for want of a read slot (1013)"
        )
        refused.add_metric([], float(budget.refused))
        yield refused
        draining = GaugeMetricFamily("livefeed_draining", "1 after SIGTERM, until the exit")
        draining.add_metric([], 1.0 if state.draining.is_set() else 0.0)
        yield draining


def metrics_of(app: Any) -> Metrics:
    """The metrics of ``app`` (a Starlette app), set by :func:`app.main.create_app`."""
    metrics: Metrics = app.state.metrics
    return metrics


router = APIRouter(tags=["ops"])


@router.get("/metrics", response_class=Response, responses=errors(401))
async def metrics_endpoint(request: Request) -> Response:
    """Prometheus text exposition of this process's metrics. With ``LIVEFEED_METRICS_TOKEN``
    set, only for ``Authorization: Bearer <that token>`` (401 otherwise)."""
    state = getattr(request.app.state, "livefeed", None)
    required = state.settings.metrics_token if state is not None else None
    if required:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not same_token(given.strip(), required):
            return JSONResponse(
                {"detail": "metrics need the metrics token (LIVEFEED_METRICS_TOKEN)"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
    return Response(metrics_of(request.app).render(), media_type=CONTENT_TYPE_LATEST)


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/api/feeds/{slug}``), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return "<unmatched>"
    if type(route).__name__ == "Mount":
        return path.rstrip("/") + "/{path}"
    return path or "/"


class MetricsMiddleware:
    """Pure ASGI: counts HTTP responses by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        counted = False

        def count(status: int) -> None:
            nonlocal counted
            if counted:
                return
            counted = True
            method = scope.get("method", "GET")
            self.metrics.http_requests.labels(
                method if method in _METHODS else "other", route_template(scope), str(status)
            ).inc()

        async def send_counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                count(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        except Exception:
            count(500)
            raise
