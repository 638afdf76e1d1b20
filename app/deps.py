"""FastAPI dependencies shared by every HTTP layer (API routers, pages, embeds, studio): app
state, store, settings, hub and bearer-token auth. They live outside ``app/api`` so the HTML
layer never imports the API package."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.config import Settings
from app.hub import Hub
from app.state import AppState
from app.store import Principal, Store
from app.tokens import same_token

bearer = HTTPBearer(auto_error=False, description="Admin token or a reporter token")

# Every dependency here is ``async def``: FastAPI runs plain ``def`` dependencies in a
# worker thread, a hop that cost more than the rest of a cached page view.


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.livefeed
    return state


async def get_store(state: Annotated[AppState, Depends(get_state)]) -> Store:
    return state.store


async def get_settings(state: Annotated[AppState, Depends(get_state)]) -> Settings:
    return state.settings


async def get_hub(state: Annotated[AppState, Depends(get_state)]) -> Hub:
    return state.hub


StateDep = Annotated[AppState, Depends(get_state)]
StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
HubDep = Annotated[Hub, Depends(get_hub)]


async def get_principal(
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """401 without a valid bearer token."""
    if credentials is None or not credentials.credentials:
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    principal = await bearer_principal(state, credentials.credentials)
    if principal is None:
        raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return principal


async def bearer_principal(state: AppState, token: str) -> Principal | None:
    """Who ``token`` is (the admin token, or a usable stored token), or None. Read from the
    database every time, so a revocation holds at once in every process."""
    admin = state.settings.admin_token
    if admin and same_token(token, admin):
        return Principal(is_admin=True, feed=None, name="admin")
    return await state.store.authenticate(token)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def require_admin(principal: PrincipalDep) -> Principal:
    if not principal.is_admin:
        raise HTTPException(403, "this needs the admin token")
    return principal


async def require_reporter(slug: str, principal: PrincipalDep) -> Principal:
    """Admin, or a reporter token of feed ``slug`` (403 for another feed's token)."""
    if not principal.is_admin and principal.feed != slug:
        raise HTTPException(403, f"this token cannot write to feed {slug!r}")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]
ReporterDep = Annotated[Principal, Depends(require_reporter)]
