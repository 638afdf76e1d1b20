"""Tokens can be listed, revoked and expired (API, CLI), revocation holds at once in every
process, and /metrics can be restricted."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from alembic import command
from fastapi import FastAPI
from sqlalchemy.engine import Connection

from app.store import Store
from app.store.engine import make_engine
from app.store.migrate import _config, upgrade
from app.store.tables import tokens
from app.tokens import hash_token
from tests.conftest import ADMIN
from tests.live_support import migrate
from tests.support.services import LivefeedServer, PostgresServer, find_livefeed_executable


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _reporter(client: httpx.AsyncClient, feed: str, **fields: Any) -> dict[str, Any]:
    response = await client.post(f"/api/feeds/{feed}/tokens", json=fields, headers=ADMIN)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _can_post(client: httpx.AsyncClient, feed: str, token: str) -> int:
    response = await client.post(
        f"/api/feeds/{feed}/entries", json={"body": "hello"}, headers=bearer(token)
    )
    return response.status_code


async def test_list_and_revoke_through_the_api(client: httpx.AsyncClient, feed: str) -> None:
    first = await _reporter(client, feed, name="Ana")
    second = await _reporter(client, feed, name="Ben")
    listed = await client.get("/api/tokens", headers=ADMIN)
    assert listed.status_code == 200
    rows = {row["id"]: row for row in listed.json()}
    assert rows[first["id"]]["name"] == "Ana" and rows[first["id"]]["feed"] == feed
    assert rows[first["id"]]["active"] is True and rows[first["id"]]["revoked_at"] is None
    assert first["token"] not in listed.text  # never the secret
    only_feed = await client.get(f"/api/tokens?feed={feed}", headers=ADMIN)
    assert {row["id"] for row in only_feed.json()} == {first["id"], second["id"]}

    assert await _can_post(client, feed, first["token"]) == 201
    revoked = await client.delete(f"/api/tokens/{first['id']}", headers=ADMIN)
    assert revoked.status_code == 204
    assert await _can_post(client, feed, first["token"]) == 401
    assert await _can_post(client, feed, second["token"]) == 201  # others unaffected
    again = await client.delete(f"/api/tokens/{first['id']}", headers=ADMIN)
    assert again.status_code == 204
    row = next(r for r in (await client.get("/api/tokens", headers=ADMIN)).json()
               if r["id"] == first["id"])  # fmt: skip
    assert row["active"] is False and row["revoked_at"] is not None


async def test_token_management_needs_the_admin(client: httpx.AsyncClient, feed: str) -> None:
    reporter = await _reporter(client, feed)
    assert (await client.get("/api/tokens")).status_code == 401
    assert (await client.get("/api/tokens", headers=bearer(reporter["token"]))).status_code == 403
    response = await client.delete(f"/api/tokens/{reporter['id']}", headers=bearer("lf_nope"))
    assert response.status_code == 401
    assert (await client.delete("/api/tokens/999999", headers=ADMIN)).status_code == 404
    assert (await client.delete(f"/api/tokens/{2**31}", headers=ADMIN)).status_code == 422
    assert (await client.get("/api/tokens?feed=nope", headers=ADMIN)).status_code == 404


async def test_expiry(app: FastAPI, client: httpx.AsyncClient, feed: str) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    refused = await client.post(
        f"/api/feeds/{feed}/tokens", json={"expires_at": past}, headers=ADMIN
    )
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("expires_at:")
    soon = datetime.now(UTC) + timedelta(hours=1)
    created = await _reporter(client, feed, name="temp", expires_at=soon.isoformat())
    assert datetime.fromisoformat(created["expires_at"]) == soon
    assert await _can_post(client, feed, created["token"]) == 201
    # Time passes (moved in the database rather than waited for).
    async with app.state.livefeed.store.engine.begin() as conn:
        await conn.execute(
            sa.update(tokens)
            .where(tokens.c.id == created["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert await _can_post(client, feed, created["token"]) == 401
    row = next(r for r in (await client.get("/api/tokens", headers=ADMIN)).json()
               if r["id"] == created["id"])  # fmt: skip
    assert row["active"] is False and row["revoked_at"] is None


async def test_upgrade_keeps_existing_tokens_usable(database_url: str) -> None:
    engine = make_engine(database_url)
    try:

        def to_0002(connection: Connection) -> None:
            command.upgrade(_config(connection), "0002")

        async with engine.begin() as conn:
            await conn.run_sync(to_0002)
            await conn.execute(
                sa.text(
                    "INSERT INTO tokens (feed_id, is_admin, name, token_hash, created_at)"
                    " VALUES (NULL, true, 'old admin', :hash, :now)"
                ),
                {
                    "hash": hash_token("lf_old"),
                    "now": datetime.now(UTC).replace(tzinfo=None),
                },
            )
        await upgrade(engine)
        store = Store(engine)
        principal = await store.authenticate("lf_old")
        assert principal is not None and principal.is_admin
        [info] = await store.list_tokens()
        assert (info.name, info.active, info.expires_at, info.revoked_at) == (
            "old admin",
            True,
            None,
            None,
        )
    finally:
        await engine.dispose()


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    exe = find_livefeed_executable()
    assert exe
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEFEED_")}
    env["LIVEFEED_DATABASE_URL"] = database_url
    return subprocess.run(
        [exe, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_revocation_holds_at_once_in_every_process_and_from_the_cli(
    livefeed_factory: Callable[..., LivefeedServer],
    postgres_server: PostgresServer,
    redis_url: str,
) -> None:
    database_url = postgres_server.create_database()
    migrate(database_url)
    env = {"LIVEFEED_DATABASE_URL": database_url, "LIVEFEED_REDIS_URL": redis_url}
    one, two = livefeed_factory(env), livefeed_factory(env)
    admin = bearer(one.admin_token or "")
    with httpx.Client(timeout=30) as http:
        created = http.post(
            one.url("/api/feeds"), json={"slug": "rev", "title": "Revocation"}, headers=admin
        )
        assert created.status_code == 201, created.text
        tokens_made = [
            http.post(one.url("/api/feeds/rev/tokens"), json={"name": n}, headers=admin).json()
            for n in ("api-revoked", "cli-revoked")
        ]

        def status_on(server: LivefeedServer, token: str) -> int:
            return http.post(
                server.url("/api/feeds/rev/entries"), json={"body": "x"}, headers=bearer(token)
            ).status_code

        for made in tokens_made:
            assert status_on(one, made["token"]) == 201
            assert status_on(two, made["token"]) == 201  # the other process knows it too

        # Revoked on process one: the very next request on process two gets 401.
        api_made = tokens_made[0]
        deleted = http.delete(one.url(f"/api/tokens/{api_made['id']}"), headers=admin)
        assert deleted.status_code == 204
        assert status_on(two, api_made["token"]) == 401
        assert status_on(one, api_made["token"]) == 401

        # The CLI lists without secrets and revokes: both processes refuse it at once.
        cli_made = tokens_made[1]
        listed = _cli(database_url, "tokens", "list", "--feed", "rev")
        assert listed.returncode == 0, listed.stderr
        lines = {line.split("\t")[0]: line for line in listed.stdout.splitlines()}
        assert "\trevoked\tfeed:rev\tapi-revoked\t" in lines[str(api_made["id"])]
        assert "\tactive\tfeed:rev\tcli-revoked\t" in lines[str(cli_made["id"])]
        assert cli_made["token"] not in listed.stdout
        revoked = _cli(database_url, "tokens", "revoke", str(cli_made["id"]))
        assert revoked.returncode == 0, revoked.stderr
        assert status_on(one, cli_made["token"]) == 401
        assert status_on(two, cli_made["token"]) == 401
        unknown = _cli(database_url, "tokens", "revoke", "999999")
        assert unknown.returncode != 0 and "not found" in unknown.stderr
    for server in (one, two):
        assert "Traceback" not in server.log_text()


def test_cli_creates_tokens_that_expire(postgres_server: PostgresServer) -> None:
    database_url = postgres_server.create_database()
    migrate(database_url)
    assert _cli(database_url, "feeds", "create", "exp", "--title", "E").returncode == 0
    past = _cli(database_url, "tokens", "create", "exp", "--expires-at", "2001-01-01T00:00:00Z")
    assert past.returncode != 0 and "expires_at" in past.stderr
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat(timespec="seconds")
    made = _cli(database_url, "tokens", "create", "exp", "--expires-at", later)
    assert made.returncode == 0, made.stderr
    listed = _cli(database_url, "tokens", "list").stdout
    assert f"expires {later}" in listed


def test_metrics_can_be_restricted(livefeed_factory: Callable[..., LivefeedServer]) -> None:
    server = livefeed_factory({"LIVEFEED_METRICS_TOKEN": "scrape-secret"})
    with httpx.Client(timeout=30) as http:
        assert http.get(server.url("/metrics")).status_code == 401
        wrong = http.get(server.url("/metrics"), headers=bearer("test-admin-token"))
        assert wrong.status_code == 401
        right = http.get(server.url("/metrics"), headers=bearer("scrape-secret"))
        assert right.status_code == 200
        assert "livefeed_" in right.text
    open_server = livefeed_factory()
    assert httpx.get(open_server.url("/metrics"), timeout=30).status_code == 200
