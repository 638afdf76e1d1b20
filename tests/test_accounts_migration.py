"""Migration 0004 (accounts) upgrades a database written at 0003 — the schema of the release
before accounts — without losing or changing a row, on SQLite and PostgreSQL.

The database is brought to 0003 by the migrations themselves and filled the way that release
wrote it (feeds, entries with media and a pinned one, the change log, tokens admin/reporter/
revoked/expiring, idempotency keys, media rows). Every row of every table is read before and
after the upgrade and compared column by column; the new ``entries.author_id`` is NULL, and
the app then serves the old data (tokens still authenticate, entries list as before).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from app.store import Store
from app.store.engine import make_engine
from app.store.migrate import _config, current_revision, head_revision, upgrade
from app.tokens import hash_token

OLD_TABLES = ("feeds", "entries", "changes", "tokens", "idempotency_keys", "media")


async def _fill_like_release_0003(conn: AsyncConnection) -> None:
    now = datetime(2026, 6, 24, 9, 30, tzinfo=UTC).replace(tzinfo=None)
    later = now + timedelta(days=400)

    async def run(sql: str, **params: Any) -> None:
        await conn.execute(sa.text(sql), params)

    for slug, status in (("old", "live"), ("done", "ended")):
        await run(
            "INSERT INTO feeds (slug, title, description, locale, timezone, status, rev,"
            " allowed_origins, created_at, updated_at, started_at, ended_at) VALUES (:slug,"
            " 'Élection', 'desc', 'fr-FR', 'Europe/Paris', :status, 3, :origins, :now, :now,"
            " :now, NULL)",
            slug=slug,
            status=status,
            origins=json.dumps(["https://news.example"]),
            now=now,
        )
    media_item = {"id": 1, "kind": "image", "url": "/media/ab/1600.jpg", "alt": "a"}
    await run(
        "INSERT INTO media (feed_id, kind, content_type, width, height, alt, caption, credit,"
        " renditions, card, created_at) SELECT id, 'image', 'image/jpeg', 1600, 1067, 'a',"
        " 'cap', 'AFP', :renditions, NULL, :now FROM feeds WHERE slug = 'old'",
        renditions=json.dumps([{"key": "ab/1600.jpg", "width": 1600, "height": 1067}]),
        now=now,
    )
    for n, (body, pinned, key_event, media) in enumerate(
        [
            ("First", False, True, []),
            ("Pinned", True, False, [media_item]),
            ("Third", False, False, []),
        ],
        start=1,
    ):
        await run(
            "INSERT INTO entries (feed_id, rev, published_at, updated_at, author, body, html,"
            " pinned, key_event, deleted, has_time, import_key, media) SELECT id, :rev, :now,"
            " :now, :author, :body, :html, :pinned, :key_event, false, true, :import_key,"
            " :media FROM feeds WHERE slug = 'old'",
            rev=n,
            now=now,
            author="Ana" if n == 1 else None,
            body=body,
            html=f"<p>{body}</p>",
            pinned=pinned,
            key_event=key_event,
            import_key=f"k{n}" if n == 3 else None,
            media=json.dumps(media),
        )
        await run(
            "INSERT INTO changes (feed_id, rev, payload, created_at) SELECT id, :rev, :payload,"
            " :now FROM feeds WHERE slug = 'old'",
            rev=n,
            payload=json.dumps({"type": "created", "rev": n, "body": body}),
            now=now,
        )
    await run(
        "INSERT INTO idempotency_keys (feed_id, key, request_hash, entry_id, response,"
        " created_at) SELECT f.id, 'retry-1', 'h', e.id, '{}', :now FROM feeds f JOIN entries e"
        " ON e.feed_id = f.id WHERE f.slug = 'old' AND e.body = 'First'",
        now=now,
    )
    tokens = [
        (None, True, "admin", "lf_admin_old", None, None),
        ("old", False, "desk", "lf_reporter_old", None, None),
        ("old", False, "gone", "lf_revoked_old", None, now),
        ("done", False, "temp", "lf_expiring_old", later, None),
    ]
    for slug, is_admin, name, secret, expires_at, revoked_at in tokens:
        await run(
            "INSERT INTO tokens (feed_id, is_admin, name, token_hash, created_at, expires_at,"
            " revoked_at) VALUES ((SELECT id FROM feeds WHERE slug = :slug), :is_admin, :name,"
            " :hash, :now, :expires_at, :revoked_at)",
            slug=slug,
            is_admin=is_admin,
            name=name,
            hash=hash_token(secret),
            now=now,
            expires_at=expires_at,
            revoked_at=revoked_at,
        )


async def _rows(conn: AsyncConnection, table: str) -> list[dict[str, Any]]:
    result = await conn.execute(sa.text(f"SELECT * FROM {table}"))
    rows = [dict(row._mapping) for row in result]
    return sorted(rows, key=lambda row: json.dumps(row, sort_keys=True, default=str))


async def test_upgrade_from_0003_keeps_every_row(database_url: str) -> None:
    engine = make_engine(database_url)
    try:

        def to_0003(connection: Connection) -> None:
            command.upgrade(_config(connection), "0003")

        async with engine.begin() as conn:
            await conn.run_sync(to_0003)
            await _fill_like_release_0003(conn)
        async with engine.connect() as conn:
            before = {table: await _rows(conn, table) for table in OLD_TABLES}
        assert all(before.values()), "every old table has rows to keep"
        assert await current_revision(engine) == "0003"

        assert (await upgrade(engine)) == ("0003", head_revision())

        async with engine.connect() as conn:
            after = {table: await _rows(conn, table) for table in OLD_TABLES}
            users = (await conn.execute(sa.text("SELECT count(*) FROM users"))).scalar_one()
        for table in OLD_TABLES:
            kept = [{k: v for k, v in row.items() if k in before[table][0]} for row in after[table]]
            assert kept == before[table], f"{table} changed in the upgrade"
        assert {row["author_id"] for row in after["entries"]} == {None}
        assert users == 0

        store = Store(engine)
        page = await store.list_entries("old", limit=10)
        assert [(e.body, e.pinned, e.key_event, e.author) for e in page.entries] == [
            ("Third", False, False, None),
            ("Pinned", True, False, None),
            ("First", False, True, "Ana"),
        ]
        assert page.entries[1].media[0].url == "/media/ab/1600.jpg"
        reporter = await store.authenticate("lf_reporter_old")
        assert reporter is not None and reporter.feed == "old"
        assert await store.authenticate("lf_revoked_old") is None
        assert (await store.authenticate("lf_admin_old")) is not None
    finally:
        await engine.dispose()
