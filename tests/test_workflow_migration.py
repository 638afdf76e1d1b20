"""Upgrading a database written before the entry lifecycle existed (schema 0003, with
entries, a deleted one and a pinned one) keeps every entry as published, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from app.store import Store
from app.store.engine import make_engine
from app.store.migrate import _config, current_revision, head_revision, upgrade


async def test_upgrade_from_0003_publishes_existing_entries(database_url: str) -> None:
    engine = make_engine(database_url)
    try:

        def to_0003(connection: Connection) -> None:
            command.upgrade(_config(connection), "0003")

        async with engine.begin() as conn:
            await conn.run_sync(to_0003)
            now = datetime.now(UTC).replace(tzinfo=None)
            await conn.execute(
                sa.text(
                    "INSERT INTO feeds (slug, title, description, locale, timezone, status, rev,"
                    " allowed_origins, created_at, updated_at) VALUES ('old', 'Old', '', 'en-GB',"
                    " 'UTC', 'live', 3, '[]', :now, :now)"
                ),
                {"now": now},
            )
            for rev, body, pinned, deleted in (
                (1, "Kept", False, False),
                (2, "Pinned", True, False),
                (3, "", False, True),
            ):
                await conn.execute(
                    sa.text(
                        "INSERT INTO entries (feed_id, rev, published_at, updated_at, body,"
                        " html, pinned, key_event, deleted, has_time, media) SELECT id, :rev,"
                        " :now, :now, :body, :body, :pinned, false, :deleted, true, '[]'"
                        " FROM feeds"
                    ),
                    {"now": now, "rev": rev, "body": body, "pinned": pinned, "deleted": deleted},
                )
        assert await current_revision(engine) == "0003"
        before, after = await upgrade(engine)
        assert (before, after) == ("0003", head_revision())
        store = Store(engine)
        page = await store.list_entries("old", limit=10)
        assert [(e.body, e.status, e.revisions, e.edited_at) for e in page.entries] == [
            ("Pinned", "published", 0, None),
            ("Kept", "published", 0, None),
        ]
        pinned, _keys = await store.highlights("old")
        assert pinned is not None and pinned.body == "Pinned"
        deleted = await store.list_team_entries("old", ["deleted"], limit=10)
        assert [(e.status, e.deleted) for e in deleted.entries] == [("published", True)]
    finally:
        await engine.dispose()
