"""Accounts over the API: sessions (``/api/session…``), people (``/api/users…``) and feed
memberships (``/api/feeds/{slug}/members…``).

Sign-in sets the ``livefeed_session`` cookie (see :mod:`app.auth` for its flags and the CSRF
rule) and answers the session's CSRF token. Managing people needs ``people.manage`` (admins);
listing a feed's members needs ``team.view`` on it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from fastapi.responses import JSONResponse

from app.auth import (
    COOKIE_NAME,
    AccountDisabled,
    TooManyAttempts,
    WrongCredentials,
    check_csrf,
    clear_session_cookie,
    csrf_token,
    log_in,
    new_reset_link,
    same_site_origin,
    set_session_cookie,
)
from app.deps import AccountsDep, PrincipalDep, StateDep, require
from app.openapi import errors
from app.passwords import hash_password
from app.permissions import Action, Principal, Role
from app.schemas import (
    MAX_ID,
    SLUG_PATTERN,
    LoginRequest,
    MemberInfo,
    MembershipSet,
    ResetLink,
    SessionCreated,
    UserCreate,
    UserCreated,
    UserInfo,
    UserUpdate,
)
from app.tokens import hash_token

router = APIRouter(tags=["accounts"])

PeopleDep = Annotated[Principal, Depends(require(Action.PEOPLE_MANAGE))]
TeamViewDep = Annotated[Principal, Depends(require(Action.TEAM_VIEW))]
UserIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="Account id")]
SlugPath = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=64, description="Feed slug")]

LOGIN_RESPONSES: dict[int | str, dict[str, object]] = {
    **errors(401),
    403: {"description": "The account is disabled, or the request came from another site."},
    429: {
        "description": "Too many failed logins from this address or for this account; "
        "retry after Retry-After seconds."
    },
}


def client_address(request: Request) -> str:
    """The client's address (after the trusted-proxy rule of app/forwarded.py)."""
    return request.client.host if request.client else "unknown"


@router.post(
    "/api/session", status_code=201, response_model=SessionCreated, responses=LOGIN_RESPONSES
)
async def create_session(data: LoginRequest, request: Request, state: StateDep) -> Response:
    """Sign in with an account's email address and password: sets the session cookie and
    answers the account and the session's CSRF token. Failed logins are limited per client
    address and per account (429 with ``Retry-After``)."""
    if not same_site_origin(request, state.settings):
        raise HTTPException(403, "cross-site sign-in refused")
    try:
        token, account = await log_in(state, data.email, data.password, client_address(request))
    except TooManyAttempts as exc:
        raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None
    except WrongCredentials:
        raise HTTPException(401, "wrong email address or password") from None
    except AccountDisabled:
        raise HTTPException(403, "this account is disabled") from None
    body = SessionCreated(user=account.info(), csrf_token=csrf_token(token))
    response = JSONResponse(body.model_dump(mode="json"), status_code=201)
    set_session_cookie(response, request, token, state.settings.session_max_age_seconds)
    return response


@router.delete("/api/session", status_code=204, responses={403: errors(403)[403]})
async def end_session(request: Request, state: StateDep) -> Response:
    """Sign out: ends this session (in every process at once) and clears the cookie. Without
    a valid session it only clears the cookie. Needs the CSRF token like any unsafe call."""
    token = request.cookies.get(COOKIE_NAME)
    if token and await state.accounts.session(token) is not None:
        await check_csrf(request, token, state.settings)
        await state.accounts.end_session(token)
        await state.team.revoke(session_id=hash_token(token))  # its team channels, everywhere
    response = Response(status_code=204)
    clear_session_cookie(response, request)
    return response


@router.post("/api/session/logout-everywhere", status_code=204)
async def end_every_session(
    request: Request, who: PrincipalDep, accounts: AccountsDep, state: StateDep
) -> Response:
    """End every session of the signed-in account, on every device (this one included)."""
    if who.user_id is None:
        raise HTTPException(403, "only a signed-in account has sessions (not a bearer token)")
    await accounts.end_all_sessions(who.user_id)
    await state.team.revoke(user_id=who.user_id)
    response = Response(status_code=204)
    clear_session_cookie(response, request)
    return response


# -- people ---------------------------------------------------------------------------------


async def _reset_link(state: StateDep, user_id: int) -> ResetLink:
    link, expires_at = await new_reset_link(state.accounts, state.settings, user_id)
    return ResetLink(reset_link=link, expires_at=expires_at)


@router.get("/api/users", response_model=list[UserInfo])
async def list_users(accounts: AccountsDep, _who: PeopleDep) -> list[UserInfo]:
    return [account.info() for account in await accounts.list_users()]


@router.post("/api/users", status_code=201, response_model=UserCreated, responses=errors(409))
async def create_user(data: UserCreate, state: StateDep, _who: PeopleDep) -> UserCreated:
    """Create an account. Without ``password`` the answer carries a one-time link where the
    person sets one (``reset_link``, shown once)."""
    password_hash = None if data.password is None else await hash_password(data.password)
    name = data.display_name or data.email.split("@", 1)[0]
    account = await state.accounts.create_user(data.email, name, Role(data.role), password_hash)
    link = None if data.password is not None else (await _reset_link(state, account.id)).reset_link
    return UserCreated(**account.info().model_dump(), reset_link=link)


@router.get("/api/users/{user_id}", response_model=UserInfo)
async def get_user(user_id: UserIdPath, accounts: AccountsDep, _who: PeopleDep) -> UserInfo:
    return (await accounts.get_user(user_id)).info()


@router.patch("/api/users/{user_id}", response_model=UserInfo)
async def update_user(
    user_id: UserIdPath, data: UserUpdate, accounts: AccountsDep, state: StateDep, _who: PeopleDep
) -> UserInfo:
    """Rename, change the global role, disable (every session ends at once, in every
    process) or enable an account."""
    account = await accounts.update_user(
        user_id,
        display_name=data.display_name,
        role=None if data.role is None else Role(data.role),
        disabled=data.disabled,
    )
    if data.disabled:
        await state.team.revoke(user_id=user_id)
    return account.info()


@router.post("/api/users/{user_id}/reset-link", status_code=201, response_model=ResetLink)
async def create_reset_link(user_id: UserIdPath, state: StateDep, _who: PeopleDep) -> ResetLink:
    """A one-time link where the person sets a new password (shown once). Using it ends every
    session of the account."""
    await state.accounts.get_user(user_id)
    return await _reset_link(state, user_id)


# -- feed memberships -----------------------------------------------------------------------


@router.get("/api/feeds/{slug}/members", response_model=list[MemberInfo])
async def list_members(
    slug: SlugPath, accounts: AccountsDep, _who: TeamViewDep
) -> list[MemberInfo]:
    """The feed's team: accounts with a role on it."""
    return [member.info() for member in await accounts.list_members(slug)]


@router.put("/api/feeds/{slug}/members/{user_id}", response_model=MemberInfo)
async def set_member(
    slug: SlugPath,
    user_id: UserIdPath,
    data: MembershipSet,
    accounts: AccountsDep,
    _who: PeopleDep,
) -> MemberInfo:
    """Make the account a member of the feed with ``role``, or change its role there. On the
    feed it acts with that role, at most its global role."""
    return (await accounts.set_membership(slug, user_id, Role(data.role))).info()


@router.delete("/api/feeds/{slug}/members/{user_id}", status_code=204)
async def remove_member(
    slug: SlugPath, user_id: UserIdPath, accounts: AccountsDep, _who: PeopleDep
) -> Response:
    await accounts.remove_membership(slug, user_id)
    return Response(status_code=204)
