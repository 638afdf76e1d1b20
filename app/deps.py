"""FastAPI dependencies shared by every HTTP layer (API routers, pages, embeds, studio): app
state, store, settings, hub, and who the request is (``get_principal``) and what it may do
(``require(Action)``). They live outside ``app/api`` so the HTML
layer never imports the API package."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from app.auth import COOKIE_NAME, CSRF_HEADER, authenticate, principal_of_bearer
from app.config import Settings
from app.hub import Hub
from app.permissions import GLOBAL_ACTIONS, Action, Decision, Principal, denial
from app.state import AppState
from app.store import Store
from app.store.accounts import AccountStore

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


async def get_accounts(state: Annotated[AppState, Depends(get_state)]) -> AccountStore:
    return state.accounts


StateDep = Annotated[AppState, Depends(get_state)]
StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
HubDep = Annotated[Hub, Depends(get_hub)]
AccountsDep = Annotated[AccountStore, Depends(get_accounts)]


# Both only document the two ways in (OpenAPI security schemes); app.auth reads them.
_bearer = HTTPBearer(auto_error=False, description="Admin token or a reporter token")
_cookie = APIKeyCookie(
    name=COOKIE_NAME,
    auto_error=False,
    description=f"Session of a signed-in account (POST /api/session or /login); unsafe "
    f"methods also need its CSRF token in the {CSRF_HEADER} header (from GET /api/whoami)",
)


async def get_principal(
    request: Request,
    state: StateDep,
    _bearer_doc: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _cookie_doc: Annotated[str | None, Depends(_cookie)],
) -> Principal:
    """Who the request is (``app.auth.authenticate``: bearer token, else session cookie with
    CSRF check); 401 when nobody, 403 when a cookie request fails the CSRF check."""
    found = await authenticate(request, state)
    if found is None:
        raise HTTPException(
            401,
            "sign in: send a bearer token or the session cookie",
            headers={"WWW-Authenticate": "Bearer"},
        )
    request.state.livefeed_session = found.session_token
    return found.principal


async def bearer_principal(state: AppState, token: str) -> Principal | None:
    """Who a bearer ``token`` is (the admin token, or a usable stored token), or None. Read
    from the database every time, so a revocation holds at once in every process."""
    return await principal_of_bearer(state, token)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(action: Action) -> Callable[..., Awaitable[Principal]]:
    """A dependency granting ``action`` (``Depends(require(Action.X))``): the principal, or
    401 (nobody) / 403 naming the missing right. A feed action is decided on the route's
    ``{slug}``; an ``own`` decision passes here and the route checks the entry's owner with
    ``principal.may(action, slug, owner_id=…)``."""

    async def dependency(request: Request, principal: PrincipalDep) -> Principal:
        slug = None if action in GLOBAL_ACTIONS else request.path_params.get("slug")
        if principal.decision(action, slug) is Decision.DENY:
            raise HTTPException(403, denial(action, slug))
        return principal

    dependency.__name__ = f"require_{action.name.lower()}"
    setattr(dependency, REQUIRES_ACTION, action)
    return dependency


#: Attribute naming the action a :func:`require` dependency checks (read by app/openapi.py).
REQUIRES_ACTION = "livefeed_requires_action"
