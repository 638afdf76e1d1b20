"""Who may open a live stream, in two steps.

1. **At the handshake** (before a WebSocket is upgraded or an SSE response starts),
   :func:`reserve` takes a place for the client address (:mod:`app.forwarded` decides who
   the client is) in two counts, or refuses with an HTTP status and ``Retry-After``:

   - the process's live-stream budget, ``LIVEFEED_MAX_LIVE_CONNECTIONS`` (0 = derived from
     the descriptor limit: :func:`live_connection_budget`): **503**;
   - the per-address cap, ``LIVEFEED_MAX_CONNECTIONS_PER_IP`` (default 100): **429**.

   A refused client is answered and its socket closed at once — it is never accepted and
   held — so one address cannot take the descriptors other readers and writers need. The
   transport gives the place back (:meth:`AddressSlot.release`) when its connection ends,
   however it ends.
2. **When the session opens** (:func:`admit`, called by :class:`app.live.session.AppAdmission`
   once the feed is known): not while draining (1012), and the page's origin must be
   allowed to embed the feed (4403).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from app.http_limits import default_connection_budget
from app.live.close_codes import ORIGIN_REFUSED, OVERLOAD_RETRY_AFTER_SECONDS, SERVICE_RESTART
from app.schemas import Feed
from app.state import AppState

#: Connections of the process budget kept for what is not a live stream (API, pages,
#: the reporter's POSTs): a tenth of it, at least this many.
HTTP_HEADROOM = 32


def client_ip(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client is not None else "unknown"


def live_connection_budget(setting: int) -> int:
    """``LIVEFEED_MAX_LIVE_CONNECTIONS``, or when 0 the process's connection budget
    (:func:`app.http_limits.default_connection_budget`, from ``RLIMIT_NOFILE``) less a tenth
    (at least :data:`HTTP_HEADROOM`) kept for plain HTTP."""
    if setting:
        return setting
    total = default_connection_budget()
    return max(1, total - max(HTTP_HEADROOM, total // 10))


@dataclass(frozen=True, slots=True)
class Refusal:
    """A live stream refused at the handshake: the HTTP answer."""

    status: int  # 429 (this address) or 503 (this process)
    reason: str
    retry_after: int  # seconds, for the Retry-After header

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class AddressSlot:
    """One place taken by :func:`reserve`; :meth:`release` gives it back (once)."""

    __slots__ = ("_state", "ip")

    def __init__(self, state: AppState, ip: str) -> None:
        self._state: AppState | None = state
        self.ip = ip

    def release(self) -> None:
        state, self._state = self._state, None
        if state is None:
            return
        state.live_connections -= 1
        counts = state.connections_by_ip
        counts[self.ip] -= 1
        if counts[self.ip] <= 0:
            del counts[self.ip]


def reserve(state: AppState, ip: str) -> AddressSlot | Refusal:
    """Take a place for a live stream from ``ip``, or say why not (see the module doc)."""
    settings = state.settings
    if state.live_connections >= live_connection_budget(settings.max_live_connections):
        return Refusal(
            503, "server at its live connection limit: retry later", OVERLOAD_RETRY_AFTER_SECONDS
        )
    cap = settings.max_connections_per_ip
    if cap and state.connections_by_ip[ip] >= cap:
        return Refusal(
            429, "too many live connections from this address", OVERLOAD_RETRY_AFTER_SECONDS
        )
    state.connections_by_ip[ip] += 1
    state.live_connections += 1
    return AddressSlot(state, ip)


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
    """The session's admission of an existing feed: None, or the (close code, reason)
    refusing it. Counts nothing: the transport holds the address place (:func:`reserve`)."""
    if state.draining.is_set():
        return SERVICE_RESTART.code, SERVICE_RESTART.reason
    if not origin_allowed(feed, conn.headers.get("origin"), own_origins(state, conn)):
        return ORIGIN_REFUSED.code, ORIGIN_REFUSED.reason
    return None
