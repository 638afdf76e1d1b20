"""``app/deps.py``: who a bearer token is, and what it may write (with a fake store)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import HTTPException
from fastapi.security import HTTPAuthorizationCredentials

from app.deps import get_principal, require_admin, require_reporter
from app.store import Principal
from app.tokens import hash_token, new_token, same_token

ADMIN_TOKEN = "admin-secret"
REPORTER_TOKEN = "lf_reporter"


class FakeStore:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def authenticate(self, token: str) -> Principal | None:
        self.asked.append(token)
        if token == REPORTER_TOKEN:
            return Principal(is_admin=False, feed="moscou", name="desk")
        return None


def state(admin_token: str | None = ADMIN_TOKEN) -> Any:
    return SimpleNamespace(settings=SimpleNamespace(admin_token=admin_token), store=FakeStore())


def bearer(token: str) -> HTTPAuthorizationCredentials:
    return HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)


async def test_the_admin_token_is_the_admin_without_a_store_read() -> None:
    app_state = state()
    principal = await get_principal(app_state, bearer(ADMIN_TOKEN))
    assert principal == Principal(is_admin=True, feed=None, name="admin")
    assert app_state.store.asked == []


async def test_a_reporter_token_is_its_feed_reporter() -> None:
    principal = await get_principal(state(), bearer(REPORTER_TOKEN))
    assert principal == Principal(is_admin=False, feed="moscou", name="desk")


@pytest.mark.parametrize(
    ("credentials", "detail"),
    [
        (None, "missing bearer token"),
        (bearer(""), "missing bearer token"),
        (bearer("lf_unknown"), "invalid or revoked token"),
        (bearer(ADMIN_TOKEN + "x"), "invalid or revoked token"),
    ],
)
async def test_no_or_an_unknown_token_is_401(
    credentials: HTTPAuthorizationCredentials | None, detail: str
) -> None:
    with pytest.raises(HTTPException) as refused:
        await get_principal(state(), credentials)
    assert (refused.value.status_code, refused.value.detail) == (401, detail)
    assert refused.value.headers == {"WWW-Authenticate": "Bearer"}


async def test_without_an_admin_token_configured_no_token_is_admin() -> None:
    with pytest.raises(HTTPException) as refused:
        await get_principal(state(admin_token=None), bearer(""))
    assert refused.value.status_code == 401
    with pytest.raises(HTTPException):
        await get_principal(state(admin_token=""), bearer("anything"))


async def test_only_the_admin_passes_require_admin() -> None:
    admin = Principal(is_admin=True, feed=None, name="admin")
    assert await require_admin(admin) is admin
    with pytest.raises(HTTPException) as refused:
        await require_admin(Principal(is_admin=False, feed="moscou", name="desk"))
    assert refused.value.status_code == 403


async def test_a_reporter_writes_to_its_own_feed_only() -> None:
    reporter = Principal(is_admin=False, feed="moscou", name="desk")
    admin = Principal(is_admin=True, feed=None, name="admin")
    assert await require_reporter("moscou", reporter) is reporter
    assert await require_reporter("other", admin) is admin
    with pytest.raises(HTTPException) as refused:
        await require_reporter("other", reporter)
    assert refused.value.status_code == 403
    assert "'other'" in str(refused.value.detail)


def test_tokens_are_random_prefixed_and_stored_as_hashes() -> None:
    first, second = new_token(), new_token()
    assert first != second and first.startswith("lf_") and len(first) > 40
    assert hash_token(first) == hash_token(first) != hash_token(second)
    assert first not in hash_token(first)
    assert same_token(first, first) and not same_token(first, second)
