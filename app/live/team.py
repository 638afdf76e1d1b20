"""``GET /api/feeds/{slug}/team/live`` (WebSocket): the feed's private team channel.

What it carries and guarantees is :mod:`app.team`'s contract; this module is the transport
and the door:

* **Who may open it**: someone with ``team.view`` on the feed. Credentials: a bearer token
  in ``Authorization: Bearer …`` (automation), or offered by a browser as the WebSocket
  subprotocol ``livefeed-bearer.TOKEN`` next to ``livefeed-team`` (a browser cannot set
  headers on a WebSocket; a subprotocol, unlike a query string, stays out of access logs).
  Refusals are HTTP answers before the upgrade: 401 no or bad credentials, 403 no
  ``team.view`` on this feed, 404 no such feed, 429/503 over the live connection caps.
* **Still allowed?** Every ``LIVEFEED_RESYNC_SECONDS`` the connection looks its credentials
  up again (no cache); one that no longer grants ``team.view`` is closed with 4401. A
  revocation notice (:meth:`app.team.TeamChannel.revoke`) closes it at once.
* **Client messages** (JSON text): ``{"type": "editing", "entry": ID | null}`` (opened or
  closed an entry's editor; presence) and ``{"type": "ping"}``. Anything else gets an
  ``error`` frame. More than ``LIVEFEED_CLIENT_MAX_MESSAGES_PER_MINUTE`` in a minute: 1008;
  a frame over ``LIVEFEED_CLIENT_MAX_MESSAGE_BYTES``: 1009.
* **Bounded**: frames not yet sent are capped at ``LIVEFEED_SEND_BUFFER_BYTES``; past it
  the connection is closed with 4008 (the studio reconnects and refetches).
* Draining (SIGTERM) closes it with 1012, like every live stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass

from fastapi import APIRouter, WebSocket
from fastapi.responses import PlainTextResponse
from starlette.websockets import WebSocketDisconnect, WebSocketState

from app.auth import COOKIE_NAME, principal_of_session, same_site_origin
from app.deps import bearer_principal
from app.events import UNSEQUENCED
from app.hub import Event
from app.live import access
from app.live.close_codes import POLICY, SERVICE_RESTART, SLOW_READER, TEAM_SIGNED_OUT
from app.live.flood import MessageRate
from app.live.session import EventQueue
from app.live.uvicorn_bridge import count_pings_with
from app.live.ws import send_batches, until_one_ends
from app.permissions import Action, Principal
from app.state import AppState
from app.team import Member, error_frame, hello_frame
from app.tokens import hash_token

log = logging.getLogger(__name__)
router = APIRouter()

#: The subprotocol the studio speaks; a browser's bearer token rides as a second one.
TEAM_PROTOCOL = "livefeed-team"
BEARER_PROTOCOL_PREFIX = "livefeed-bearer."


@dataclass(frozen=True, slots=True)
class _Refusal:
    status: int
    detail: str


def _bearer(websocket: WebSocket) -> str | None:
    header = websocket.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    offered = websocket.headers.get("sec-websocket-protocol", "")
    for protocol in (p.strip() for p in offered.split(",")):
        if protocol.startswith(BEARER_PROTOCOL_PREFIX) and len(protocol) > len(
            BEARER_PROTOCOL_PREFIX
        ):
            return protocol[len(BEARER_PROTOCOL_PREFIX) :]
    return None


def may_view_team(principal: Principal, slug: str) -> bool:
    """``team.view`` on ``slug`` (app/permissions.py)."""
    return principal.may(Action.TEAM_VIEW, slug)


async def _who(state: AppState, websocket: WebSocket, slug: str) -> Member | _Refusal:
    """The member this handshake authenticates as, or why it is refused: a bearer token, else
    the session cookie — only from a page of this site (``Origin``), so that another site
    cannot open the channel with a signed-in browser's cookie."""
    token = _bearer(websocket)
    principal = await bearer_principal(state, token) if token else None
    session_id: str | None = None  # matched by TeamChannel.revoke(session_id=…)
    session = websocket.cookies.get(COOKIE_NAME)
    if principal is None and token is None and session:
        if not same_site_origin(websocket, state.settings):
            return _Refusal(403, "cross-site request refused: the team channel needs this site")
        principal = await principal_of_session(state, session)
        session_id = hash_token(session)
    if principal is None:
        return _Refusal(401, "sign in (a session or a bearer token) to open the team channel")
    if await state.store.get_feed(slug) is None:
        return _Refusal(404, f"no feed {slug!r}")
    if not may_view_team(principal, slug):
        return _Refusal(403, f"this needs team.view on feed {slug!r}")
    key = (
        f"user:{principal.user_id}" if principal.user_id is not None else f"token:{principal.name}"
    )
    return Member(key=key, name=principal.name, user_id=principal.user_id, session_id=session_id)


async def _still_allowed(state: AppState, websocket: WebSocket, slug: str) -> bool:
    return isinstance(await _who(state, websocket, slug), Member)


@router.websocket("/api/feeds/{slug}/team/live")
async def team_socket(websocket: WebSocket, slug: str) -> None:
    state: AppState = websocket.app.state.livefeed
    if state.draining.is_set():
        await _deny(websocket, _Refusal(503, "server restarting: retry later"))
        return
    member = await _who(state, websocket, slug)
    if isinstance(member, _Refusal):
        await _deny(websocket, member)
        return
    slot = access.reserve(state, access.client_ip(websocket))
    if isinstance(slot, access.Refusal):
        await websocket.send_denial_response(
            PlainTextResponse(slot.reason, slot.status, headers=slot.headers)
        )
        return
    try:
        await _serve(websocket, state, slug, member)
    finally:
        slot.release()


async def _deny(websocket: WebSocket, refusal: _Refusal) -> None:
    headers = {"WWW-Authenticate": "Bearer"} if refusal.status == 401 else None
    await websocket.send_denial_response(
        PlainTextResponse(refusal.detail, refusal.status, headers=headers)
    )


class TeamConnection:
    """One team WebSocket as :class:`app.team.TeamChannel` sees it (a ``TeamSink``)."""

    def __init__(self, limit_bytes: int) -> None:
        self.queue = EventQueue()
        self.limit_bytes = limit_bytes
        self.close_code: int | None = None
        self.close_reason = ""

    def send(self, frame: bytes) -> None:
        if self.close_code is not None:
            return
        if self.queue.push(Event(UNSEQUENCED, frame)) > self.limit_bytes:
            self.close(SLOW_READER.code, SLOW_READER.reason)

    def close(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
            self.queue.end(code, reason)


async def _serve(websocket: WebSocket, state: AppState, slug: str, member: Member) -> None:
    team = state.team
    settings = state.settings
    connection = TeamConnection(settings.send_buffer_bytes)
    offered = websocket.headers.get("sec-websocket-protocol", "")
    subprotocol = (
        TEAM_PROTOCOL if TEAM_PROTOCOL in {p.strip() for p in offered.split(",")} else None
    )
    joined = False
    try:
        await websocket.accept(subprotocol=subprotocol)
        connection.send(hello_frame(slug, member, settings.heartbeat_seconds))
        await team.join(slug, member, connection)
        joined = True
        await until_one_ends(
            send_batches(websocket, connection.queue),
            _read(websocket, state, slug, connection),
            _recheck(websocket, state, slug, connection),
            _drain(state, connection),
            connection.queue.ended.wait(),
        )
    except WebSocketDisconnect:
        pass
    finally:
        if joined:
            await team.leave(slug, connection)
        if (
            connection.close_code is not None
            and websocket.application_state != WebSocketState.DISCONNECTED
        ):
            with contextlib.suppress(Exception):
                await websocket.close(connection.close_code, connection.close_reason)


async def _read(
    websocket: WebSocket, state: AppState, slug: str, connection: TeamConnection
) -> None:
    rate = MessageRate(state.settings.client_max_messages_per_minute)

    def count() -> bool:
        if rate.count():
            return True
        connection.close(POLICY.code, "too many messages")
        return False

    # One count for the client's messages and its pings (app.live.flood).
    count_pings_with(websocket.scope, count)
    while connection.close_code is None:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if not count():
            return
        await _handle(state, slug, connection, message.get("text"))


async def _handle(state: AppState, slug: str, connection: TeamConnection, text: str | None) -> None:
    try:
        data = json.loads(text) if text is not None else None
    except ValueError:
        data = None
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "ping":
        return
    if kind == "editing" and isinstance(data, dict):
        entry = data.get("entry")
        if entry is None or (type(entry) is int and 0 < entry < 2**31):
            await state.team.editing(slug, connection, entry)
            return
        connection.send(error_frame("editing: entry must be an entry id or null"))
        return
    connection.send(error_frame('expected {"type": "editing", "entry": ID|null} or "ping"'))


async def _recheck(
    websocket: WebSocket, state: AppState, slug: str, connection: TeamConnection
) -> None:
    """The safety net under revocation notices: look the credentials up again."""
    while connection.close_code is None:
        await asyncio.sleep(state.settings.resync_seconds)
        try:
            allowed = await _still_allowed(state, websocket, slug)
        except Exception:  # the store is briefly unreachable: keep the member, try again
            log.exception("team channel: re-checking a member of %s failed", slug)
            continue
        if not allowed:
            connection.close(TEAM_SIGNED_OUT.code, TEAM_SIGNED_OUT.reason)
            return


async def _drain(state: AppState, connection: TeamConnection) -> None:
    await state.draining.wait()
    connection.close(SERVICE_RESTART.code, SERVICE_RESTART.reason)
