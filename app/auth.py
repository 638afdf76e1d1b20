"""Who a request is, by bearer token or session cookie; login, the session cookie and CSRF.

Contracts:

* :func:`authenticate` turns a request into a :class:`~app.permissions.Principal`: a bearer
  token when the request has an ``Authorization`` header (the admin token → admin, a reporter
  token → editor of its feed; never CSRF-checked: a browser does not attach it by itself),
  else the ``livefeed_session`` cookie, read from the database on every request.
* A cookie-authenticated unsafe request (not GET/HEAD/OPTIONS) must pass :func:`check_csrf`:
  no cross-site ``Origin`` (the request's own origin or ``LIVEFEED_PUBLIC_URL``'s), and the
  session's CSRF token in the ``X-CSRF-Token`` header or a ``csrf_token`` form field. The
  token is an HMAC of the session secret (nothing more is stored), so it changes with the
  session and cannot be computed without the HttpOnly cookie. Refusals are 403 naming why.
* The cookie is ``HttpOnly; SameSite=Lax; Path=/``, ``Secure`` when the request is HTTPS (its
  scheme after :mod:`app.forwarded`'s rule: ``X-Forwarded-Proto`` only from trusted proxies),
  and lives ``LIVEFEED_SESSION_MAX_AGE_SECONDS``.
* :func:`log_in` checks the failed-login limits first (per client address and per account,
  counted in the database over ``LIVEFEED_LOGIN_WINDOW_SECONDS``, so they hold across
  processes): past either, :class:`TooManyAttempts` with the seconds until the oldest failure
  leaves the window. Every wrong password or unknown address counts for both; a success
  clears the account's count. A stored hash with old parameters is replaced (rehash).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import HTTPException, Request, Response
from starlette.requests import HTTPConnection

from app.config import Settings
from app.mailer import MailFailed, send_reset_mail
from app.passwords import verify_password
from app.permissions import Principal, PrincipalKind, Role
from app.state import AppState
from app.store.accounts import Account, AccountStore, email_key
from app.tokens import same_token

log = logging.getLogger(__name__)

COOKIE_NAME = "livefeed_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True, slots=True)
class Authenticated:
    principal: Principal
    #: The session secret when the request came with the session cookie (else None).
    session_token: str | None


class TooManyAttempts(Exception):
    """Login refused by the rate limit; ``retry_after`` seconds until the next try counts."""

    def __init__(self, retry_after: int, scope: str) -> None:
        super().__init__(f"too many failed logins for this {scope}; retry in {retry_after} s")
        self.retry_after = retry_after


class WrongCredentials(Exception):
    """Unknown address or wrong password (deliberately the same answer for both)."""


class AccountDisabled(Exception):
    """The password was right, but the account is disabled."""


def account_principal(account: Account) -> Principal:
    return Principal(
        kind=PrincipalKind.ACCOUNT,
        name=account.display_name,
        role=account.role,
        feed_roles=dict(account.feeds),
        user_id=account.id,
        email=account.email,
    )


def token_principal(is_admin: bool, feed: str | None, name: str) -> Principal:
    if is_admin:
        return Principal(kind=PrincipalKind.ADMIN_TOKEN, name=name, role=Role.ADMIN)
    assert feed is not None
    return Principal(
        kind=PrincipalKind.FEED_TOKEN, name=name, role=Role.EDITOR, feed_roles={feed: Role.EDITOR}
    )


async def principal_of_bearer(state: AppState, token: str) -> Principal | None:
    """The principal of a bearer token (admin token from the settings, or a stored one)."""
    admin = state.settings.admin_token
    if admin and same_token(token, admin):
        return token_principal(True, None, "admin")
    owner = await state.store.authenticate(token)
    if owner is None:
        return None
    return token_principal(owner.is_admin, owner.feed, owner.name)


async def principal_of_session(state: AppState, token: str) -> Principal | None:
    found = await state.accounts.session(token)
    return None if found is None else account_principal(found.account)


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session: HMAC-SHA256 keyed by the session secret."""
    return hmac.new(session_token.encode(), b"livefeed csrf", hashlib.sha256).hexdigest()


def request_origin(request: HTTPConnection) -> str:
    """``scheme://host[:port]`` of the request as the client addressed it (a WebSocket's
    ``ws``/``wss`` as the ``http``/``https`` of the page that opened it)."""
    host = request.headers.get("host") or request.url.netloc
    scheme = {"ws": "http", "wss": "https"}.get(request.url.scheme, request.url.scheme)
    return f"{scheme}://{host}"


def _origin_of(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def same_site_origin(request: HTTPConnection, settings: Settings) -> bool:
    """The request's ``Origin`` (when sent) is this service's own origin."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin in {request_origin(request), _origin_of(settings.public_url)}


async def check_csrf(request: Request, session_token: str, settings: Settings) -> None:
    """403 unless a cookie-authenticated unsafe request is same-origin and carries the
    session's CSRF token (header, or form field for a plain HTML form)."""
    if request.method in SAFE_METHODS:
        return
    if not same_site_origin(request, settings):
        raise HTTPException(
            403, f"cross-site request refused: Origin {request.headers.get('origin')!r}"
        )
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(_FORM_TYPES):
        field = (await request.form()).get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    if not sent:
        raise HTTPException(
            403,
            f"CSRF token missing: send the {CSRF_HEADER} header (from GET /api/whoami) "
            f"or a {CSRF_FIELD} form field",
        )
    if not hmac.compare_digest(sent.encode(), csrf_token(session_token).encode()):
        raise HTTPException(403, "CSRF token does not match this session")


async def authenticate(request: Request, state: AppState) -> Authenticated | None:
    """Bearer token first, else the session cookie (CSRF-checked when unsafe); None when
    neither identifies anyone. 401 for a bearer token that is invalid or revoked."""
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        principal = await principal_of_bearer(state, token)
        if principal is None:
            raise HTTPException(
                401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"}
            )
        return Authenticated(principal, None)
    session_token = request.cookies.get(COOKIE_NAME)
    if not session_token:
        return None
    principal = await principal_of_session(state, session_token)
    if principal is None:
        return None
    await check_csrf(request, session_token, state.settings)
    return Authenticated(principal, session_token)


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, token: str, max_age: int) -> None:
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=is_https(request)
    )


async def _check_limits(state: AppState, keys: list[tuple[str, str]], window: timedelta) -> None:
    """:class:`TooManyAttempts` when any (scope, key) has its limit of failures in the window."""
    settings = state.settings
    limits = {
        "address": settings.login_max_failures_per_address,
        "account": settings.login_max_failures_per_account,
    }
    counts = await state.accounts.recent_failures(keys, window)
    now = datetime.now(UTC)
    for (scope, _key), (count, oldest) in counts.items():
        if count >= limits[scope]:
            assert oldest is not None
            wait = (oldest + window - now).total_seconds()
            raise TooManyAttempts(max(1, math.ceil(wait)), scope)


async def log_in(state: AppState, email: str, password: str, address: str) -> tuple[str, Account]:
    """Check the limits and the password; on success a new session: (its token, account)."""
    settings = state.settings
    accounts = state.accounts
    window = timedelta(seconds=settings.login_window_seconds)
    keys = [("address", address), ("account", email_key(email))]
    await _check_limits(state, keys, window)
    found = await accounts.credentials(email)
    ok, new_hash = await verify_password(found[1] if found else None, password)
    if not ok or found is None:
        await accounts.record_failure(keys, window)
        raise WrongCredentials
    account = found[0]
    if account.disabled_at is not None:
        raise AccountDisabled
    if new_hash is not None:
        await accounts.set_password_hash(account.id, new_hash)
    await accounts.clear_failures("account", email_key(email))
    lifetime = timedelta(seconds=settings.session_max_age_seconds)
    return await accounts.create_session(account.id, lifetime), account


async def new_reset_link(
    accounts: AccountStore, settings: Settings, user_id: int
) -> tuple[str, datetime]:
    """A one-time ``LIVEFEED_PUBLIC_URL/reset/{token}`` link for the account, and when it
    expires (``LIVEFEED_RESET_LINK_MAX_AGE_SECONDS``)."""
    lifetime = timedelta(seconds=settings.reset_link_max_age_seconds)
    expires_at = datetime.now(UTC) + lifetime
    token = await accounts.create_reset(user_id, lifetime)
    return f"{settings.public_url}/reset/{token}", expires_at


async def request_reset_mail(state: AppState, email: str, address: str, language: str) -> None:
    """``/forgot``: under the failed-login limits (each request counts as one failure for
    the address and the account, so mails are as limited as guesses; past them
    :class:`TooManyAttempts`), mail a reset link to an enabled account of ``email``. A mail
    that cannot be sent is logged, not reported: the answer never tells whether the
    address has an account."""
    accounts = state.accounts
    window = timedelta(seconds=state.settings.login_window_seconds)
    keys = [("address", address), ("account", email_key(email))]
    await _check_limits(state, keys, window)
    await accounts.record_failure(keys, window)
    account = await accounts.find_user(email)
    if account is None or account.disabled_at is not None:
        return
    link, _expires = await new_reset_link(accounts, state.settings, account.id)
    try:
        await send_reset_mail(state.settings, account.email, link, language)
    except MailFailed as exc:
        log.warning("could not mail a reset link to account %d: %s", account.id, exc)
