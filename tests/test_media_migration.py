"""Upgrading a database created before media existed keeps its data (both databases)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from app.store import Store
from app.store.engine import make_engine
from app.store.migrate import _config, current_revision, head_revision, upgrade


async def test_upgrade_from_0001_keeps_entries_and_adds_empty_media(database_url: str) -> None:
    engine = make_engine(database_url)
    try:

        def to_0001(connection: Connection) -> None:
            command.upgrade(_config(connection), "0001")

        async with engine.begin() as conn:
            await conn.run_sync(to_0001)
            now = datetime.now(UTC).replace(tzinfo=None)
            await conn.execute(
                sa.text(
                    "INSERT INTO feeds (slug, title, description, locale, timezone, status, rev,"
                    " allowed_origins, created_at, updated_at) VALUES ('old', 'Old', '', 'en-GB',"
                    " 'UTC', 'live', 1, '[]', :now, :now)"
                ),
                {"now": now},
            )
            await conn.execute(
                sa.text(
                    "INSERT INTO entries (feed_id, rev, published_at, updated_at, body, html,"
                    " pinned, key_event, deleted, has_time) SELECT id, 1, :now, :now, 'Kept',"
                    " '<p>Kept</p>', false, false, false, true FROM feeds"
                ),
                {"now": now},
            )
        assert await current_revision(engine) == "0001"
        before, after = await upgrade(engine)
        assert (before, after) == ("0001", head_revision())
        page = await Store(engine).list_entries("old", limit=10)
        assert [(e.body, e.html, e.media) for e in page.entries] == [("Kept", "<p>Kept</p>", [])]
    finally:
        await engine.dispose()
