"""``app/deps.py`` and ``app/auth.py``: who a bearer token or session is, and what
``require(Action)`` lets through (fake store and accounts, fake requests)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import HTTPException
from starlette.requests import Request

from app.auth import COOKIE_NAME, csrf_token
from app.deps import get_principal, require
from app.permissions import Action, Principal, PrincipalKind, Role
from app.store import TokenOwner
from app.store.accounts import Account, SessionAccount
from app.tokens import hash_token, new_token, same_token

ADMIN_TOKEN = "admin-secret"
REPORTER_TOKEN = "lf_reporter"
SESSION = "session-secret"


class FakeStore:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def authenticate(self, token: str) -> TokenOwner | None:
        self.asked.append(token)
        if token == REPORTER_TOKEN:
            return TokenOwner(is_admin=False, feed="moscou", name="desk")
        return None


class FakeAccounts:
    async def session(self, token: str) -> SessionAccount | None:
        if token != SESSION:
            return None
        account = Account(
            id=7,
            email="ana@example.org",
            display_name="Ana",
            role=Role.EDITOR,
            disabled_at=None,
            created_at=None,  # type: ignore[arg-type]
            has_password=True,
            feeds={"moscou": Role.CONTRIBUTOR},
        )
        return SessionAccount(session_id=1, account=account)


def state(admin_token: str | None = ADMIN_TOKEN) -> Any:
    return SimpleNamespace(
        settings=SimpleNamespace(admin_token=admin_token, public_url="http://live.example"),
        store=FakeStore(),
        accounts=FakeAccounts(),
    )


def request(
    method: str = "GET",
    headers: dict[str, str] | None = None,
    slug: str | None = None,
) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    raw.append((b"host", b"live.example"))
    scope = {
        "type": "http",
        "method": method,
        "scheme": "http",
        "path": "/",
        "headers": raw,
        "query_string": b"",
        "path_params": {} if slug is None else {"slug": slug},
        "server": ("live.example", 80),
    }
    return Request(scope)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def principal(app_state: Any, req: Request) -> Principal:
    return await get_principal(req, app_state, None, None)


async def test_the_admin_token_is_the_admin_without_a_store_read() -> None:
    app_state = state()
    found = await principal(app_state, request(headers=bearer(ADMIN_TOKEN)))
    assert (found.kind, found.role, found.is_admin) == (PrincipalKind.ADMIN_TOKEN, Role.ADMIN, True)
    assert app_state.store.asked == []


async def test_a_reporter_token_is_an_editor_of_its_feed() -> None:
    found = await principal(state(), request(headers=bearer(REPORTER_TOKEN)))
    assert found.kind is PrincipalKind.FEED_TOKEN and found.feed == "moscou"
    assert found.role_on("moscou") is Role.EDITOR and found.role_on("other") is None


@pytest.mark.parametrize(
    ("headers", "status", "detail"),
    [
        ({}, 401, "sign in: send a bearer token or the session cookie"),
        (bearer(""), 401, "sign in: send a bearer token or the session cookie"),
        (bearer("lf_unknown"), 401, "invalid or revoked token"),
        (bearer(ADMIN_TOKEN + "x"), 401, "invalid or revoked token"),
        (
            {"Cookie": f"{COOKIE_NAME}=stale"},
            401,
            "sign in: send a bearer token or the session cookie",
        ),
    ],
)
async def test_nobody_or_an_unknown_token_is_401(
    headers: dict[str, str], status: int, detail: str
) -> None:
    with pytest.raises(HTTPException) as refused:
        await principal(state(), request(headers=headers))
    assert (refused.value.status_code, refused.value.detail) == (status, detail)
    assert refused.value.headers == {"WWW-Authenticate": "Bearer"}


async def test_without_an_admin_token_configured_no_token_is_admin() -> None:
    with pytest.raises(HTTPException) as refused:
        await principal(state(admin_token=None), request(headers=bearer("")))
    assert refused.value.status_code == 401
    with pytest.raises(HTTPException):
        await principal(state(admin_token=""), request(headers=bearer("anything")))


async def test_a_session_cookie_is_its_account_and_unsafe_calls_need_the_csrf_token() -> None:
    cookie = {"Cookie": f"{COOKIE_NAME}={SESSION}"}
    found = await principal(state(), request(headers=cookie))
    assert (found.kind, found.user_id, found.name) == (PrincipalKind.ACCOUNT, 7, "Ana")
    with pytest.raises(HTTPException) as refused:
        await principal(state(), request("POST", headers=cookie))
    assert refused.value.status_code == 403 and "CSRF token missing" in str(refused.value.detail)
    wrong = {**cookie, "X-CSRF-Token": csrf_token("another-session")}
    with pytest.raises(HTTPException) as refused:
        await principal(state(), request("POST", headers=wrong))
    assert refused.value.detail == "CSRF token does not match this session"
    good = {**cookie, "X-CSRF-Token": csrf_token(SESSION)}
    assert (await principal(state(), request("POST", headers=good))).user_id == 7
    cross = {**good, "Origin": "https://evil.example"}
    with pytest.raises(HTTPException) as refused:
        await principal(state(), request("POST", headers=cross))
    assert "cross-site request refused" in str(refused.value.detail)
    same = {**good, "Origin": "http://live.example"}
    assert (await principal(state(), request("POST", headers=same))).user_id == 7


async def test_a_plain_form_may_carry_the_csrf_token_as_a_field() -> None:
    body = f"csrf_token={csrf_token(SESSION)}&x=1".encode()
    headers = {
        "Cookie": f"{COOKIE_NAME}={SESSION}",
        "Content-Type": "application/x-www-form-urlencoded",
        "Content-Length": str(len(body)),
    }
    req = request("POST", headers=headers)
    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    req._receive = receive
    assert (await principal(state(), req)).user_id == 7


async def test_a_bearer_request_needs_no_csrf_token() -> None:
    found = await principal(state(), request("POST", headers=bearer(REPORTER_TOKEN)))
    assert found.feed == "moscou"


async def test_require_decides_on_the_routes_feed_and_names_the_missing_right() -> None:
    reporter = await principal(state(), request(headers=bearer(REPORTER_TOKEN)))
    publish = require(Action.ENTRY_PUBLISH)
    assert await publish(request(slug="moscou"), reporter) is reporter
    with pytest.raises(HTTPException) as refused:
        await publish(request(slug="other"), reporter)
    assert refused.value.status_code == 403
    assert refused.value.detail == "missing the right entry.publish on feed 'other'"
    with pytest.raises(HTTPException) as refused:
        await require(Action.TOKEN_MANAGE)(request(slug="moscou"), reporter)
    assert refused.value.detail == "missing the right token.manage"
    contributor = await principal(state(), request(headers={"Cookie": f"{COOKIE_NAME}={SESSION}"}))
    # "own" passes the dependency; the route checks the owner.
    assert await require(Action.ENTRY_WRITE_DRAFT)(request(slug="moscou"), contributor)
    with pytest.raises(HTTPException):
        await publish(request(slug="moscou"), contributor)


def test_tokens_are_random_prefixed_and_stored_as_hashes() -> None:
    first, second = new_token(), new_token()
    assert first != second and first.startswith("lf_") and len(first) > 40
    assert hash_token(first) == hash_token(first) != hash_token(second)
    assert first not in hash_token(first)
    assert same_token(first, first) and not same_token(first, second)
