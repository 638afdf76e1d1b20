"""Who may open a live stream: not while draining, per-IP connection cap, allowed origins."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from app.live.close_codes import ORIGIN_REFUSED, POLICY, SERVICE_RESTART
from app.schemas import Feed
from app.state import AppState


def client_ip(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client is not None else "unknown"


def origin_allowed(feed: Feed, origin: str | None, own_origins: set[str]) -> bool:
    """Same-origin, no Origin header (non-browser clients) or an allowed origin pass.

    An empty ``allowed_origins`` list means "embeddable anywhere".
    """
    if origin is None or not feed.allowed_origins or "*" in feed.allowed_origins:
        return True
    return origin in own_origins or origin in feed.allowed_origins


def own_origins(state: AppState, conn: HTTPConnection) -> set[str]:
    public = urlsplit(state.settings.public_url)
    origins = {f"{public.scheme}://{public.netloc}"}
    host = conn.headers.get("host")
    if host:
        origins.update({f"http://{host}", f"https://{host}"})
    return origins


def admit(state: AppState, conn: HTTPConnection, feed: Feed) -> tuple[int, str] | None:
    """Count the connection in, or return the (close code, reason) that refuses it."""
    if state.draining.is_set():
        return SERVICE_RESTART.code, SERVICE_RESTART.reason
    if not origin_allowed(feed, conn.headers.get("origin"), own_origins(state, conn)):
        return ORIGIN_REFUSED.code, ORIGIN_REFUSED.reason
    cap = state.settings.max_connections_per_ip
    ip = client_ip(conn)
    if cap and state.connections_by_ip[ip] >= cap:
        return POLICY.code, "too many connections from this address"
    state.connections_by_ip[ip] += 1
    return None


def release(state: AppState, conn: HTTPConnection) -> None:
    ip = client_ip(conn)
    state.connections_by_ip[ip] -= 1
    if state.connections_by_ip[ip] <= 0:
        del state.connections_by_ip[ip]
