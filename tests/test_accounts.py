"""Accounts over HTTP, on SQLite and PostgreSQL: sign-in and the session cookie, CSRF,
whoami, people and memberships, disabling, reset links, the failed-login limit, rehash on
login, bylines, and 4xx (never 500) for bad input."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from app.passwords import HASHER
from app.store.tables import users
from tests.conftest import ADMIN

PASSWORD = "correct horse battery"


async def make_user(
    client: httpx.AsyncClient,
    email: str,
    role: str = "editor",
    feed: str | None = None,
    feed_role: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"email": email, "role": role, "password": PASSWORD}
    if name:
        body["display_name"] = name
    response = await client.post("/api/users", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()
    if feed is not None:
        member = await client.put(
            f"/api/feeds/{feed}/members/{user['id']}",
            json={"role": feed_role or role},
            headers=ADMIN,
        )
        assert member.status_code == 200, member.text
    return user


@asynccontextmanager
async def signed_in(
    app: FastAPI, email: str, password: str = PASSWORD
) -> AsyncIterator[httpx.AsyncClient]:
    """A fresh client (its own cookie jar) signed in as ``email``, sending its CSRF token."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.post("/api/session", json={"email": email, "password": password})
        assert response.status_code == 201, response.text
        http.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        yield http


async def test_sign_in_sets_a_session_cookie_and_whoami_tells_who(
    app: FastAPI, client: httpx.AsyncClient, feed: str
) -> None:
    await make_user(client, "Ana@Example.org", "editor", feed, "contributor", name="Ana Lima")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.post(
            "/api/session", json={"email": "ana@EXAMPLE.org", "password": PASSWORD}
        )
        assert response.status_code == 201, response.text
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("livefeed_session=")
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite=lax", "path=/", "max-age=1209600"} <= flags
        assert "secure" not in flags  # plain HTTP
        csrf = response.json()["csrf_token"]
        who = await http.get("/api/whoami")
        assert who.status_code == 200
        body = who.json()
        assert body["kind"] == "account" and body["email"] == "Ana@Example.org"
        assert body["display_name"] == body["name"] == "Ana Lima"
        assert body["role"] == "editor" and body["feeds"] == {feed: "contributor"}
        assert body["rights"][feed] == {
            "entry.write_draft": "own",
            "entry.submit": "own",
            "media.upload": "allow",
            "team.view": "allow",
        }
        assert body["csrf_token"] == csrf and body["is_admin"] is False and body["feed"] is None


async def test_whoami_keeps_todays_fields_for_bearer_tokens(
    client: httpx.AsyncClient, feed: str
) -> None:
    admin = (await client.get("/api/whoami", headers=ADMIN)).json()
    assert (admin["is_admin"], admin["feed"], admin["name"], admin["kind"]) == (
        True,
        None,
        "admin",
        "admin_token",
    )
    assert admin["csrf_token"] is None and admin["user_id"] is None
    made = await client.post(f"/api/feeds/{feed}/tokens", json={"name": "desk"}, headers=ADMIN)
    token = {"Authorization": f"Bearer {made.json()['token']}"}
    reporter = (await client.get("/api/whoami", headers=token)).json()
    assert (reporter["is_admin"], reporter["feed"], reporter["name"]) == (False, feed, "desk")
    assert reporter["feeds"] == {feed: "editor"} and "entry.publish" in reporter["rights"][feed]
    assert (await client.get("/api/whoami")).status_code == 401


async def test_wrong_password_and_unknown_address_are_the_same_401(
    client: httpx.AsyncClient,
) -> None:
    await make_user(client, "ben@example.org")
    wrong = await client.post(
        "/api/session", json={"email": "ben@example.org", "password": "nope-nope-nope"}
    )
    unknown = await client.post(
        "/api/session", json={"email": "nobody@example.org", "password": "nope-nope-nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "wrong email address or password"}
    assert "set-cookie" not in wrong.headers


async def test_a_session_writes_only_with_its_csrf_token_and_same_origin(
    app: FastAPI, client: httpx.AsyncClient, feed: str
) -> None:
    await make_user(client, "cy@example.org", "editor", feed)
    async with signed_in(app, "cy@example.org") as http:
        token = http.headers.pop("X-CSRF-Token")
        url = f"/api/feeds/{feed}/entries"
        missing = await http.post(url, json={"body": "no token"})
        assert missing.status_code == 403 and "CSRF token missing" in missing.json()["detail"]
        wrong = await http.post(url, json={"body": "x"}, headers={"X-CSRF-Token": "0" * 64})
        assert wrong.status_code == 403
        assert wrong.json()["detail"] == "CSRF token does not match this session"
        cross = await http.post(
            url,
            json={"body": "x"},
            headers={"X-CSRF-Token": token, "Origin": "https://evil.example"},
        )
        assert cross.status_code == 403 and "cross-site" in cross.json()["detail"]
        ok = await http.post(
            url,
            json={"body": "signed in"},
            headers={"X-CSRF-Token": token, "Origin": "http://testserver"},
        )
        assert ok.status_code == 201, ok.text
        # A form post carries the token as a field.
        form = await http.post(
            f"/api/feeds/{feed}/cards", data={"url": "x"}, headers={"Origin": "http://testserver"}
        )
        assert form.status_code == 403 and "CSRF token missing" in form.json()["detail"]
        entries = (await client.get(url)).json()["entries"]
        assert [e["body"] for e in entries] == ["signed in"]


async def test_an_accounts_entry_records_it_and_bylines_its_name(
    app: FastAPI, client: httpx.AsyncClient, feed: str
) -> None:
    user = await make_user(client, "dee@example.org", "editor", feed, name="Dee Reporter")
    async with signed_in(app, "dee@example.org") as http:
        plain = await http.post(f"/api/feeds/{feed}/entries", json={"body": "by me"})
        named = await http.post(
            f"/api/feeds/{feed}/entries", json={"body": "for a guest", "author": "Guest"}
        )
    assert plain.json()["author"] == "Dee Reporter"
    assert named.json()["author"] == "Guest"
    token = await client.post(f"/api/feeds/{feed}/entries", json={"body": "x"}, headers=ADMIN)
    assert token.json()["author"] is None
    state = app.state.livefeed
    async with state.store.engine.connect() as conn:
        from sqlalchemy import select

        from app.store.tables import entries

        rows = (await conn.execute(select(entries.c.id, entries.c.author_id))).all()
    by_id = dict(rows)
    assert by_id[plain.json()["id"]] == by_id[named.json()["id"]] == user["id"]
    assert by_id[token.json()["id"]] is None


async def test_sign_out_ends_the_session_and_logout_everywhere_ends_all(
    app: FastAPI, client: httpx.AsyncClient, feed: str
) -> None:
    await make_user(client, "eve@example.org", "editor", feed)
    async with AsyncExitStack() as stack:
        first, second, third = [
            await stack.enter_async_context(signed_in(app, "eve@example.org")) for _ in range(3)
        ]
        stolen = first.cookies["livefeed_session"]
        out = await first.delete("/api/session")
        assert out.status_code == 204
        assert 'livefeed_session=""' in out.headers["set-cookie"]
        assert (await first.get("/api/whoami")).status_code == 401
        # The old cookie value replayed: the session is gone server-side.
        replay = await client.get("/api/whoami", headers={"Cookie": f"livefeed_session={stolen}"})
        assert replay.status_code == 401
        assert (await second.get("/api/whoami")).status_code == 200
        everywhere = await second.post("/api/session/logout-everywhere")
        assert everywhere.status_code == 204
        assert (await second.get("/api/whoami")).status_code == 401
        assert (await third.get("/api/whoami")).status_code == 401
    bearer = await client.post("/api/session/logout-everywhere", headers=ADMIN)
    assert bearer.status_code == 403


async def test_disabling_an_account_ends_its_sessions_and_refuses_its_login(
    app: FastAPI, client: httpx.AsyncClient, feed: str
) -> None:
    user = await make_user(client, "fay@example.org", "editor", feed)
    async with signed_in(app, "fay@example.org") as http:
        off = await client.patch(f"/api/users/{user['id']}", json={"disabled": True}, headers=ADMIN)
        assert off.status_code == 200 and off.json()["disabled"] is True
        assert (await http.get("/api/whoami")).status_code == 401
        again = await http.post(
            "/api/session", json={"email": "fay@example.org", "password": PASSWORD}
        )
        assert again.status_code == 403 and again.json()["detail"] == "this account is disabled"
        on = await client.patch(f"/api/users/{user['id']}", json={"disabled": False}, headers=ADMIN)
        assert on.json()["disabled"] is False
        assert (await http.get("/api/whoami")).status_code == 401  # old sessions stay dead
    async with signed_in(app, "fay@example.org") as http:
        assert (await http.get("/api/whoami")).status_code == 200


async def test_people_and_memberships_are_managed_by_admins(
    app: FastAPI, client: httpx.AsyncClient, feed: str
) -> None:
    created = await client.post(
        "/api/users", json={"email": "gus@example.org", "role": "contributor"}, headers=ADMIN
    )
    assert created.status_code == 201
    gus = created.json()
    assert gus["has_password"] is False and gus["display_name"] == "gus"
    assert gus["reset_link"].startswith("http://127.0.0.1:8000/reset/")
    duplicate = await client.post("/api/users", json={"email": "GUS@example.org"}, headers=ADMIN)
    assert duplicate.status_code == 409
    listed = (await client.get("/api/users", headers=ADMIN)).json()
    assert [u["email"] for u in listed] == ["gus@example.org"]
    assert "password" not in str(listed).replace("has_password", "")
    put = await client.put(
        f"/api/feeds/{feed}/members/{gus['id']}", json={"role": "editor"}, headers=ADMIN
    )
    assert put.status_code == 200 and put.json()["role"] == "editor"
    members = (await client.get(f"/api/feeds/{feed}/members", headers=ADMIN)).json()
    assert [(m["email"], m["role"]) for m in members] == [("gus@example.org", "editor")]
    assert (await client.get(f"/api/users/{gus['id']}", headers=ADMIN)).json()["feeds"] == {
        feed: "editor"
    }
    removed = await client.delete(f"/api/feeds/{feed}/members/{gus['id']}", headers=ADMIN)
    assert removed.status_code == 204
    again = await client.delete(f"/api/feeds/{feed}/members/{gus['id']}", headers=ADMIN)
    assert again.status_code == 404
    # An editor account cannot manage people.
    await make_user(client, "hal@example.org", "editor", feed)
    async with signed_in(app, "hal@example.org") as http:
        refused = await http.get("/api/users")
        assert refused.status_code == 403
        assert refused.json()["detail"] == "missing the right people.manage"
        team = await http.get(f"/api/feeds/{feed}/members")
        assert team.status_code == 200


async def test_failed_logins_are_limited_per_account_with_retry_after(
    client: httpx.AsyncClient,
) -> None:
    await make_user(client, "ivy@example.org")
    for _ in range(10):
        wrong = await client.post(
            "/api/session", json={"email": "ivy@example.org", "password": "wrong-password"}
        )
        assert wrong.status_code == 401
    limited = await client.post(
        "/api/session", json={"email": "IVY@example.org", "password": PASSWORD}
    )
    assert limited.status_code == 429, limited.text
    assert 1 <= int(limited.headers["Retry-After"]) <= 900
    assert "too many failed logins for this account" in limited.json()["detail"]
    # Another account from the same address is not locked (the address limit is 20).
    await make_user(client, "jo@example.org")
    assert (
        await client.post("/api/session", json={"email": "jo@example.org", "password": PASSWORD})
    ).status_code == 201


async def test_an_old_hash_is_replaced_at_login(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await make_user(client, "kim@example.org")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    engine = app.state.livefeed.store.engine
    async with engine.begin() as conn:
        await conn.execute(
            users.update().where(users.c.id == user["id"]).values(password_hash=weak)
        )
    async with signed_in(app, "kim@example.org"):
        pass
    async with engine.connect() as conn:
        stored = (
            (await conn.execute(users.select().where(users.c.id == user["id"]))).one().password_hash
        )
    assert stored != weak and not HASHER.check_needs_rehash(stored)
    assert HASHER.verify(stored, PASSWORD)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/session", {"email": "x", "password": "y"}),
        ("POST", "/api/session", {"email": "a@b", "password": ""}),
        ("POST", "/api/session", {"email": "a\x00@b", "password": "y"}),
        ("POST", "/api/session", {"email": "a@b", "password": "\ud800"}),
        ("POST", "/api/session", {"email": "a@b", "password": "p" * 2000}),
        ("POST", "/api/users", {"email": "a@b", "role": "boss"}),
        ("POST", "/api/users", {"email": "a@b", "password": "short"}),
        ("PATCH", "/api/users/1", {"disabled": "yes"}),
        ("PATCH", f"/api/users/{2**31}", {}),
        ("PUT", "/api/feeds/moscou/members/1", {"role": "admin"}),
    ],
)
async def test_bad_input_is_a_4xx_naming_the_problem(
    client: httpx.AsyncClient, feed: str, method: str, path: str, body: dict[str, Any]
) -> None:
    # json.dumps escapes a lone surrogate as \ud800, as a client would send it.
    headers = {**ADMIN, "Content-Type": "application/json"}
    response = await client.request(method, path, content=json.dumps(body), headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


async def test_unknown_accounts_and_feeds_are_404(client: httpx.AsyncClient, feed: str) -> None:
    assert (await client.get("/api/users/999", headers=ADMIN)).status_code == 404
    assert (await client.patch("/api/users/999", json={}, headers=ADMIN)).status_code == 404
    assert (await client.post("/api/users/999/reset-link", headers=ADMIN)).status_code == 404
    user = await make_user(client, "lu@example.org")
    missing_feed = await client.put(
        f"/api/feeds/nope/members/{user['id']}", json={"role": "editor"}, headers=ADMIN
    )
    assert missing_feed.status_code == 404
    missing_user = await client.put(
        f"/api/feeds/{feed}/members/999", json={"role": "editor"}, headers=ADMIN
    )
    assert missing_user.status_code == 404


# -- the /login and /reset pages (forms, no JS) -----------------------------------------------


async def test_the_login_form_signs_in_without_js_and_says_why_it_refuses(
    app: FastAPI, client: httpx.AsyncClient, feed: str
) -> None:
    await make_user(client, "mo@example.org", "editor", feed)
    page = await client.get("/login", headers={"Accept-Language": "fr-CH, en;q=0.5"})
    assert page.status_code == 200
    assert page.headers["content-security-policy"].endswith("frame-ancestors 'none'")
    assert page.headers["referrer-policy"] == "same-origin"
    assert page.headers["cache-control"] == "no-store"
    assert '<html lang="fr"' in page.text and "Se connecter" in page.text
    assert '<form method="post" action="/login">' in page.text
    wrong = await client.post("/login", data={"email": "mo@example.org", "password": "nope"})
    assert wrong.status_code == 401 and "Wrong email address or password." in wrong.text
    assert 'value="mo@example.org"' in wrong.text and "set-cookie" not in wrong.headers
    cross = await client.post(
        "/login",
        data={"email": "mo@example.org", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403 and "set-cookie" not in cross.headers
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        signed = await browser.post(
            "/login",
            data={"email": "mo@example.org", "password": PASSWORD},
            headers={"Origin": "http://testserver"},
        )
        assert signed.status_code == 303 and signed.headers["location"] == "/studio"
        assert "httponly" in signed.headers["set-cookie"].lower()
        assert (await browser.get("/api/whoami")).json()["email"] == "mo@example.org"


async def test_a_reset_link_works_once_and_ends_every_session(
    app: FastAPI, client: httpx.AsyncClient, feed: str
) -> None:
    user = await make_user(client, "ned@example.org", "editor", feed)
    async with signed_in(app, "ned@example.org") as old_session:
        made = await client.post(f"/api/users/{user['id']}/reset-link", headers=ADMIN)
        assert made.status_code == 201
        path = httpx.URL(made.json()["reset_link"]).path
        form = await client.get(path)
        assert form.status_code == 200 and 'autocomplete="new-password"' in form.text
        assert form.headers["referrer-policy"] == "same-origin"
        new = "a brand new passphrase"
        differ = await client.post(path, data={"password": new, "repeat": new + "!"})
        assert differ.status_code == 422 and "The two passwords differ." in differ.text
        short = await client.post(path, data={"password": "short", "repeat": "short"})
        assert short.status_code == 422 and "At least 10 characters." in short.text
        done = await client.post(path, data={"password": new, "repeat": new})
        assert done.status_code == 303 and done.headers["location"] == "/login?reset=1"
        assert (await old_session.get("/api/whoami")).status_code == 401
    assert (await client.get(path)).status_code == 410
    again = await client.post(
        path, data={"password": "another passphrase", "repeat": "another passphrase"}
    )
    assert again.status_code == 410 and "already used or has expired" in again.text
    old = await client.post("/api/session", json={"email": "ned@example.org", "password": PASSWORD})
    assert old.status_code == 401
    async with signed_in(app, "ned@example.org", "a brand new passphrase") as http:
        assert (await http.get("/api/whoami")).status_code == 200
    notice = await client.get("/login?reset=1")
    assert "Your password is set. Sign in with it." in notice.text


async def test_an_expired_or_unknown_reset_link_is_gone(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    created = await client.post("/api/users", json={"email": "oz@example.org"}, headers=ADMIN)
    path = httpx.URL(created.json()["reset_link"]).path
    from app.store.tables import password_resets

    async with app.state.livefeed.store.engine.begin() as conn:
        await conn.execute(
            password_resets.update().values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert (await client.get(path)).status_code == 410
    gone = await client.post(
        path, data={"password": "long enough pass", "repeat": "long enough pass"}
    )
    assert gone.status_code == 410
    assert (await client.get("/reset/nonsense")).status_code == 410
    assert (await client.get("/reset/" + "x" * 5000)).status_code in (410, 414)


async def test_an_expired_session_is_refused_and_then_dropped(
    app: FastAPI, client: httpx.AsyncClient, feed: str
) -> None:
    from sqlalchemy import func, select

    from app.store.tables import sessions

    await make_user(client, "pia@example.org", "editor", feed)
    engine = app.state.livefeed.store.engine
    async with signed_in(app, "pia@example.org") as http:
        async with engine.begin() as conn:
            await conn.execute(
                sessions.update().values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        assert (await http.get("/api/whoami")).status_code == 401
    async with signed_in(app, "pia@example.org") as http:
        assert (await http.get("/api/whoami")).status_code == 200
    async with engine.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(sessions))).scalar_one()
    assert count == 1, "the expired session was kept"
