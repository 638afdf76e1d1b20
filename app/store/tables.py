"""Table definitions (SQLAlchemy Core). Alembic migrations in ``migrations/`` create them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; always returns aware UTC datetimes (SQLite drops tzinfo)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

feeds = Table(
    "feeds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("slug", String(64), nullable=False, unique=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("locale", String(35), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("status", String(10), nullable=False, default="live"),
    # The feed's revision counter: every change takes rev + 1 in the writing transaction.
    Column("rev", BigInteger, nullable=False, default=0),
    Column("allowed_origins", JSON, nullable=False, default=list),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=True),
    Column("ended_at", UTCDateTime, nullable=True),
)

entries = Table(
    "entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    Column("rev", BigInteger, nullable=False),
    Column("published_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("author", String(100), nullable=True),
    Column("body", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("pinned", Boolean, nullable=False, default=False),
    Column("key_event", Boolean, nullable=False, default=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("has_time", Boolean, nullable=False, default=True),
    # Set by `livefeed import`: makes a re-import of the same file a no-op.
    Column("import_key", String(64), nullable=True),
    # The attached media as published (schemas.MediaItem dicts, URLs included): entry reads
    # and events need no join, and the event bytes stay what was sent.
    Column("media", JSON, nullable=False, default=list),
    # The lifecycle (app.workflow): draft | submitted | scheduled | published. Readers see
    # only published, not deleted entries; every reader query filters on both.
    Column("status", String(10), nullable=False, default="published"),
    # When a scheduled entry is due (UTC); NULL in every other status.
    Column("publish_at", UTCDateTime, nullable=True),
    # The last edit of the published entry's content (body, media, author); NULL if never.
    Column("edited_at", UTCDateTime, nullable=True),
    # Who wrote the current version (the principal's name); NULL for rows older than 0005.
    Column("edited_by", String(100), nullable=True),
    # …and their account (NULL for a bearer token, rows older than 0006, a deleted account).
    Column("edited_by_id", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    # How many earlier versions ``entry_revisions`` keeps for this entry.
    Column("revisions", Integer, nullable=False, default=0),
    # The account that created the entry (NULL: a bearer token, or written before accounts).
    Column("author_id", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    UniqueConstraint("feed_id", "import_key", name="uq_entries_feed_import_key"),
    # The reader timeline: published entries of a feed, newest first.
    Index("ix_entries_feed_status_timeline", "feed_id", "status", "published_at", "id"),
    # The scheduler's due query (status = 'scheduled' AND publish_at <= now).
    Index("ix_entries_status_publish_at", "status", "publish_at"),
)

# Earlier versions of published entries: each edit of a published entry's content keeps
# the version it replaced here, numbered 1, 2, … per entry.
entry_revisions = Table(
    "entry_revisions",
    metadata,
    Column("entry_id", Integer, ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("body", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("media", JSON, nullable=False, default=list),
    Column("author", String(100), nullable=True),
    # When this version was written, and by whom (principal name; NULL before 0005).
    Column("written_at", UTCDateTime, nullable=False),
    Column("written_by", String(100), nullable=True),
    Column("written_by_id", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    # When it was replaced, by whom, and how ("edit", or "restore" of another version).
    Column("replaced_at", UTCDateTime, nullable=False),
    Column("replaced_by", String(100), nullable=True),
    Column("replaced_by_id", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("reason", String(10), nullable=False),
)

# The change log: one row per revision, holding the exact event bytes the live transports
# send. Catch-up and `changes?since=` read it back verbatim (encoded once, at write time).
changes = Table(
    "changes",
    metadata,
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True),
    Column("rev", BigInteger, primary_key=True),
    Column("payload", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # NULL feed_id + is_admin: the admin token generated on first start.
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE"), nullable=True),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    # A token past expires_at, or with revoked_at set, authenticates nothing (rows are kept
    # so that `tokens list` still shows them).
    Column("expires_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("entry_id", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Uploaded images and resolved link cards. A row exists before its files are stored (so a
# stored file without a row is always an orphan `livefeed media prune` may delete); rows no
# entry references are pruned too, after a grace period for uploads about to be attached.
media = Table(
    "media",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(10), nullable=False),  # "image" | "card"
    Column("content_type", String(40), nullable=True),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("alt", Text, nullable=True),
    Column("caption", Text, nullable=True),
    Column("credit", String(200), nullable=True),
    # [{key, width, height, content_type}], smallest first.
    Column("renditions", JSON, nullable=False, default=list),
    # Link cards: {url, title, author_name, provider_name, playable, player, key}.
    Column("card", JSON, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_media_feed", "feed_id", "id"),
)

# -- accounts (app/store/accounts.py) -------------------------------------------------------

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False),
    # email.lower(): makes the address unique case-insensitively, on SQLite and PostgreSQL.
    Column("email_key", String(254), nullable=False, unique=True),
    Column("display_name", String(100), nullable=False),
    # argon2id (app/passwords.py); NULL until the account's first reset link is used.
    Column("password_hash", String(200), nullable=True),
    Column("role", String(12), nullable=False),  # admin | editor | contributor
    Column("disabled_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

memberships = Table(
    "memberships",
    metadata,
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(12), nullable=False),  # editor | contributor
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_memberships_user", "user_id"),
)

# Server-side sessions: the cookie holds a random token, the table only its SHA-256 hash.
# Every request reads its session here (no cache), so a logout, a disabled account or a
# password reset holds at once in every process.
sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_sessions_user", "user_id"),
)

# One-time password-reset links (hash of the token only).
password_resets = Table(
    "password_resets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
)

# Failed logins, counted per client address and per account over a sliding window; in the
# database so the limit holds across processes.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scope", String(10), nullable=False),  # "address" | "account"
    Column("key", String(254), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_login_failures_key", "scope", "key", "at"),
)
