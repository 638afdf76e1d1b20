"""The store: every read and write of feeds, entries, tokens and the change log.

Contract for writes: each change to a feed takes ``feeds.rev + 1`` inside the transaction
that makes the change, and appends its event to ``changes`` in that same transaction. A
write returns every change it logged, in rev order (pinning an entry also returns the
unpin of the previous one), so the caller can publish all of them. The
``UPDATE feeds SET rev = rev + 1`` row lock (PostgreSQL) or the database write lock (SQLite,
``BEGIN IMMEDIATE``) serializes writers of a feed, so revisions are unique and gap-free and
commit in rev order, even across processes. A failed write rolls back whole.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Row, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.events import Change, EntryOp, entry_event, feed_event
from app.render import entry_html, render_markdown_off_loop
from app.schemas import (
    MAX_ID,
    MAX_REV,
    Entry,
    EntryCreate,
    EntryPage,
    EntryRevision,
    EntryStatus,
    EntryUpdate,
    Feed,
    FeedCreate,
    FeedUpdate,
    LinkCard,
    MediaItem,
    MediaRef,
    MediaVariant,
    TokenInfo,
    is_valid_slug,
)
from app.store.engine import WRITE_OPTION
from app.store.errors import Conflict, InvalidCursor, InvalidMedia, NotFound
from app.store.tables import (
    changes,
    entries,
    entry_revisions,
    feeds,
    idempotency_keys,
    media,
    tokens,
)
from app.tokens import hash_token, new_token
from app.workflow import PUBLISHED, IllegalTransition, check_transition

# The statements every entry write runs, built once: executing a statement built anew costs
# its construction and its cache key before the compiled form is found (a tenth of a
# published entry's CPU). Parameters are named ``p_*``: a bound parameter may not take the
# name of a column an UPDATE sets.
_FEED_BY_SLUG = select(feeds).where(feeds.c.slug == bindparam("p_slug"))
_FEED_BY_SLUG_LOCKED = _FEED_BY_SLUG.with_for_update()  # PostgreSQL; SQLite: BEGIN IMMEDIATE
_NEXT_REV = (
    update(feeds)
    .where(feeds.c.id == bindparam("p_feed_id"))
    .values(rev=feeds.c.rev + 1, updated_at=bindparam("p_now"))
    .returning(feeds.c.rev)
)
_ENTRY_BY_ID = select(entries).where(
    entries.c.id == bindparam("p_id"), entries.c.feed_id == bindparam("p_feed_id")
)
#: The new row whole, as ``_ENTRY_BY_ID`` reads it: no second statement to read it back.
_INSERT_ENTRY = insert(entries).returning(*entries.c)
_LOG_CHANGE = insert(changes)


@dataclass(frozen=True, slots=True)
class TokenOwner:
    """Who a stored bearer token belongs to: the admin, or a reporter of one feed."""

    is_admin: bool
    feed: str | None
    name: str


class Created(NamedTuple):
    """What :meth:`Store.create_entry` did: the entry, the changes it logged, and whether
    it only replayed an earlier request with the same Idempotency-Key."""

    entry: Entry
    changes: list[Change]
    replayed: bool


@dataclass(frozen=True, slots=True)
class ImportedEntry:
    """One entry of a plain-text import: its day position is encoded in published_at."""

    body: str
    published_at: datetime
    import_key: str


def _now() -> datetime:
    return datetime.now(UTC)


def _feed_from_row(row: Row[Any]) -> Feed:
    zone = ZoneInfo(row.timezone)

    def local(value: datetime | None) -> datetime | None:
        return value.astimezone(zone) if value is not None else None

    return Feed(
        slug=row.slug,
        title=row.title,
        description=row.description,
        locale=row.locale,
        timezone=row.timezone,
        status=row.status,
        rev=row.rev,
        created_at=row.created_at.astimezone(zone),
        updated_at=row.updated_at.astimezone(zone),
        started_at=local(row.started_at),
        ended_at=local(row.ended_at),
        allowed_origins=list(row.allowed_origins or []),
    )


def _entry_from_row(
    row: Row[Any], feed_slug: str, zone: ZoneInfo, *, deleted_content: bool = False
) -> Entry:
    """The entry as the API shows it. A deleted entry is a tombstone (no body, html or
    media) unless ``deleted_content`` (the team's list of deleted entries, to restore):
    its content is kept in the row for a restore, never shown to readers."""
    tombstone = row.deleted and not deleted_content
    return Entry(
        id=row.id,
        feed=feed_slug,
        rev=row.rev,
        published_at=row.published_at.astimezone(zone),
        updated_at=row.updated_at.astimezone(zone),
        author=row.author,
        body="" if tombstone else row.body,
        html="" if tombstone else row.html,
        pinned=row.pinned,
        key_event=row.key_event,
        deleted=row.deleted,
        has_time=row.has_time,
        media=[] if tombstone else [MediaItem.model_validate(item) for item in row.media or []],
        status=row.status,
        publish_at=row.publish_at.astimezone(zone) if row.publish_at is not None else None,
        edited_at=row.edited_at.astimezone(zone) if row.edited_at is not None else None,
        revisions=row.revisions,
    )


def _feed_entry(row: Row[Any], feed: Row[Any]) -> Entry:
    """An entry ``row`` of ``feed`` (the feed's row) as the API shows it, in the feed's zone."""
    return _entry_from_row(row, feed.slug, ZoneInfo(feed.timezone))


def _revision_from_row(row: Row[Any], zone: ZoneInfo) -> EntryRevision:
    return EntryRevision(
        number=row.number,
        body=row.body,
        html=row.html,
        author=row.author,
        media=[MediaItem.model_validate(item) for item in row.media or []],
        written_at=row.written_at.astimezone(zone),
        written_by=row.written_by,
        written_by_id=row.written_by_id,
        replaced_at=row.replaced_at.astimezone(zone),
        replaced_by=row.replaced_by,
        replaced_by_id=row.replaced_by_id,
        reason=row.reason,
    )


def _needs_alt(status: str) -> bool:
    """Images need alt text once an entry is published or scheduled to be (drafts not yet)."""
    return status in (PUBLISHED, "scheduled")


def _check_alt(items: Sequence[MediaItem]) -> None:
    for item in items:
        if item.kind == "image" and item.alt is None:
            raise InvalidMedia(
                f"media {item.id}: alt text is required before publishing "
                '(send "alt": "" only for a purely decorative image)'
            )


def _check_transition(current: str, target: str) -> None:
    try:
        check_transition(current, target)
    except IllegalTransition as exc:
        raise Conflict(str(exc)) from None


def _withdrawn(entry: Entry, rev: int) -> Entry:
    """What readers learn of an unpublished entry: the tombstone a delete leaves."""
    return entry.model_copy(
        update={
            "rev": rev,
            "status": PUBLISHED,
            "deleted": True,
            "body": "",
            "html": "",
            "media": [],
            "pinned": False,
            "edited_at": None,
            "revisions": 0,
        }
    )


def _public() -> Any:
    """The rows readers may see: published and not deleted (see :mod:`app.workflow`)."""
    return and_(entries.c.status == PUBLISHED, ~entries.c.deleted)


@dataclass(frozen=True, slots=True)
class NewMedia:
    """A media row to create: renditions are ``{key, url, width, height, content_type}``."""

    kind: str
    renditions: list[dict[str, Any]]
    content_type: str | None = None
    width: int | None = None
    height: int | None = None
    alt: str | None = None
    caption: str | None = None
    credit: str | None = None
    #: Link cards: ``{url, title, author_name, provider_name, playable, player, key}``.
    card: dict[str, Any] | None = None


def media_item_from_row(row: Row[Any]) -> MediaItem:
    """The public description of a media row (what entries carry)."""
    variants = [
        MediaVariant(
            url=r["url"], width=r["width"], height=r["height"], content_type=r["content_type"]
        )
        for r in row.renditions or []
    ]
    if row.kind == "card":
        card = dict(row.card or {})
        return MediaItem(
            id=row.id,
            kind="card",
            url=card["url"],
            card=LinkCard(
                url=card["url"],
                title=card.get("title"),
                author_name=card.get("author_name"),
                provider_name=card.get("provider_name"),
                playable=bool(card.get("playable")),
                frame_url=f"/cards/{row.id}/{card['key']}" if card.get("key") else None,
            ),
            thumbnail=variants,
            width=card.get("width"),
            height=card.get("height"),
        )
    main = [v for v in variants if v.content_type == row.content_type][-1]
    return MediaItem(
        id=row.id,
        kind="image",
        url=main.url,
        width=row.width,
        height=row.height,
        content_type=row.content_type,
        alt=row.alt,
        caption=row.caption,
        credit=row.credit,
        variants=variants,
    )


class Store:
    """Owns the engine; every public method is one transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # SQLite has one writer at a time anyway; queueing writers of this process here
        # keeps them off the busy-timeout path.
        self._sqlite_write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    async def close(self) -> None:
        await self.engine.dispose()

    # -- transactions -------------------------------------------------------------------

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        if self._sqlite_write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._sqlite_write_lock, self.engine.connect() as conn:
            conn = await conn.execution_options(**{WRITE_OPTION: True})
            async with conn.begin():
                yield conn

    async def ping(self) -> None:
        """Raise if the database does not answer."""
        async with self._read() as conn:
            await conn.execute(select(1))

    # -- feeds --------------------------------------------------------------------------

    async def _feed_row(self, conn: AsyncConnection, slug: str, *, lock: bool = False) -> Row[Any]:
        """The feed's row; ``lock=True`` (every write) takes the feed's row lock first, so
        a writer reads nothing of the feed before the previous writer has committed."""
        if not is_valid_slug(slug):  # e.g. a NUL, which PostgreSQL refuses to compare
            raise NotFound(f"feed {slug!r} not found")
        query = _FEED_BY_SLUG_LOCKED if lock else _FEED_BY_SLUG
        row = (await conn.execute(query, {"p_slug": slug})).first()
        if row is None:
            raise NotFound(f"feed {slug!r} not found")
        return row

    async def get_feed(self, slug: str) -> Feed | None:
        if not is_valid_slug(slug):
            return None
        async with self._read() as conn:
            row = (await conn.execute(_FEED_BY_SLUG, {"p_slug": slug})).first()
        return _feed_from_row(row) if row is not None else None

    async def list_feeds(self) -> list[Feed]:
        """All feeds, live ones first, then most recently updated first."""
        async with self._read() as conn:
            rows = (
                await conn.execute(
                    select(feeds).order_by(
                        (feeds.c.status == "live").desc(), feeds.c.updated_at.desc(), feeds.c.id
                    )
                )
            ).all()
        return [_feed_from_row(row) for row in rows]

    async def count_feeds(self) -> int:
        async with self._read() as conn:
            return int((await conn.execute(select(func.count()).select_from(feeds))).scalar_one())

    async def create_feed(self, data: FeedCreate) -> Feed:
        now = _now()
        try:
            async with self._write() as conn:
                await conn.execute(
                    insert(feeds).values(
                        slug=data.slug,
                        title=data.title,
                        description=data.description,
                        locale=data.locale,
                        timezone=data.timezone,
                        status="live",
                        rev=0,
                        allowed_origins=data.allowed_origins,
                        created_at=now,
                        updated_at=now,
                        started_at=now,
                    )
                )
                row = await self._feed_row(conn, data.slug, lock=True)
        except IntegrityError:
            raise Conflict(f"a feed with slug {data.slug!r} already exists") from None
        return _feed_from_row(row)

    async def update_feed(self, slug: str, data: FeedUpdate) -> tuple[Feed, list[Change]]:
        """Apply the given fields; a real change takes a rev and logs a ``feed`` event
        (returned; no change: an empty list)."""
        fields = data.model_dump(exclude_unset=True, exclude_none=True)
        async with self._write() as conn:
            row = await self._feed_row(conn, slug, lock=True)
            changed = {k: v for k, v in fields.items() if getattr(row, k) != v}
            if not changed:
                return _feed_from_row(row), []
            now = _now()
            if changed.get("status") == "ended":
                changed["ended_at"] = now
            elif changed.get("status") == "live":
                changed["ended_at"] = None
            rev = await self._next_rev(conn, row.id, now)
            await conn.execute(update(feeds).where(feeds.c.id == row.id).values(**changed))
            feed = _feed_from_row(await self._feed_row(conn, slug, lock=True))
            payload = feed_event(feed)
            await self._log(conn, row.id, rev, payload, now)
        return feed, [Change(slug, rev, payload)]

    async def _next_rev(self, conn: AsyncConnection, feed_id: int, now: datetime) -> int:
        result = await conn.execute(_NEXT_REV, {"p_feed_id": feed_id, "p_now": now})
        return int(result.scalar_one())

    async def _log(
        self, conn: AsyncConnection, feed_id: int, rev: int, payload: bytes, now: datetime
    ) -> None:
        await conn.execute(
            _LOG_CHANGE,
            {"feed_id": feed_id, "rev": rev, "payload": payload.decode(), "created_at": now},
        )

    # -- tokens -------------------------------------------------------------------------

    async def create_token(
        self,
        slug: str | None,
        name: str,
        *,
        admin: bool = False,
        expires_at: datetime | None = None,
    ) -> str:
        """Create a token (reporter of ``slug``, or admin); return it. Only its hash is kept."""
        token, _info = await self.create_token_record(
            slug, name, admin=admin, expires_at=expires_at
        )
        return token

    async def create_token_record(
        self,
        slug: str | None,
        name: str,
        *,
        admin: bool = False,
        expires_at: datetime | None = None,
    ) -> tuple[str, TokenInfo]:
        """Like :meth:`create_token`, also returning the stored record (its id revokes it)."""
        token = new_token()
        async with self._write() as conn:
            feed_id = None if slug is None else (await self._feed_row(conn, slug, lock=True)).id
            token_id = (
                await conn.execute(
                    insert(tokens)
                    .values(
                        feed_id=feed_id,
                        is_admin=admin,
                        name=name,
                        token_hash=hash_token(token),
                        created_at=_now(),
                        expires_at=expires_at,
                    )
                    .returning(tokens.c.id)
                )
            ).scalar_one()
            info = (await self._token_infos(conn, tokens.c.id == token_id))[0]
        return token, info

    async def list_tokens(self, slug: str | None = None) -> list[TokenInfo]:
        """Every stored token (of feed ``slug`` only, if given), oldest first; never secrets."""
        async with self._read() as conn:
            if slug is None:
                return await self._token_infos(conn, None)
            feed = await self._feed_row(conn, slug)
            return await self._token_infos(conn, tokens.c.feed_id == feed.id)

    async def revoke_token(self, token_id: int) -> TokenInfo:
        """Revoke a stored token at once (every process reads tokens from the database on
        each request, so none accepts it afterwards). Revoking twice keeps the first time."""
        if not 0 < token_id <= MAX_ID:
            raise NotFound(f"token {token_id} not found")
        async with self._write() as conn:
            await conn.execute(
                update(tokens)
                .where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
                .values(revoked_at=_now())
            )
            found = await self._token_infos(conn, tokens.c.id == token_id)
        if not found:
            raise NotFound(f"token {token_id} not found")
        return found[0]

    async def _token_infos(self, conn: AsyncConnection, where: Any) -> list[TokenInfo]:
        query = select(
            tokens.c.id,
            tokens.c.name,
            tokens.c.is_admin,
            tokens.c.created_at,
            tokens.c.expires_at,
            tokens.c.revoked_at,
            feeds.c.slug,
        ).select_from(tokens.outerjoin(feeds, feeds.c.id == tokens.c.feed_id))
        if where is not None:
            query = query.where(where)
        now = _now()
        return [
            TokenInfo(
                id=row.id,
                name=row.name,
                feed=row.slug,
                is_admin=row.is_admin,
                created_at=row.created_at,
                expires_at=row.expires_at,
                revoked_at=row.revoked_at,
                active=row.revoked_at is None and (row.expires_at is None or row.expires_at > now),
            )
            for row in (await conn.execute(query.order_by(tokens.c.id))).all()
        ]

    def _usable(self) -> Any:
        """Tokens that authenticate: not revoked, not expired."""
        return and_(
            tokens.c.revoked_at.is_(None),
            or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > _now()),
        )

    async def has_admin_token(self) -> bool:
        async with self._read() as conn:
            found = await conn.execute(
                select(tokens.c.id).where(tokens.c.is_admin, self._usable()).limit(1)
            )
            return found.first() is not None

    async def authenticate(self, token: str) -> TokenOwner | None:
        """The principal of a usable token, or None. Read from the database every time (no
        cache), so a revocation or expiry holds at once in every process."""
        async with self._read() as conn:
            row = (
                await conn.execute(
                    select(tokens.c.is_admin, tokens.c.name, feeds.c.slug)
                    .select_from(tokens.outerjoin(feeds, feeds.c.id == tokens.c.feed_id))
                    .where(tokens.c.token_hash == hash_token(token), self._usable())
                )
            ).first()
        if row is None:
            return None
        return TokenOwner(is_admin=row.is_admin, feed=row.slug, name=row.name)

    # -- entries ------------------------------------------------------------------------
    #
    # The lifecycle (app/workflow.py) decides what readers see: only a published, not
    # deleted entry is public. A write that touches no public entry (a draft, a submission,
    # a schedule, a deleted draft) takes no feed rev and logs nothing in the change log, so
    # no reader surface can learn of it. Publishing logs the entry's ``created`` event;
    # unpublishing or deleting a published entry logs ``deleted`` (a tombstone: no body,
    # html or media). Deleted entries keep their content in the row, for a restore.

    async def create_entry(
        self,
        slug: str,
        data: EntryCreate,
        *,
        idempotency_key: str | None = None,
        by: str | None = None,
        author_id: int | None = None,
    ) -> Created:
        """Create an entry (in ``data.status``); return it and the changes logged (a
        published one: its ``created`` event, after the unpin of the previously pinned entry
        when it is pinned; any other status: none). ``by`` names the writer; ``author_id`` is
        the account writing it (``entries.author_id``; None for a bearer token). With
        ``idempotency_key``, a repeat returns the first entry and no changes; the same key
        with a different body raises :class:`Conflict` (``replayed`` tells a repeat)."""
        request_hash = hashlib.sha256(data.model_dump_json().encode()).hexdigest()
        body_html = await render_markdown_off_loop(data.body)  # before taking the write lock
        for _attempt in range(3):
            try:
                return await self._create_entry(
                    slug, data, idempotency_key, request_hash, body_html, by, author_id
                )
            except IntegrityError:
                # A concurrent request with the same key won: loop to replay its result.
                if idempotency_key is None:
                    raise
        raise Conflict("could not settle a concurrent request with the same Idempotency-Key")

    async def _create_entry(
        self,
        slug: str,
        data: EntryCreate,
        key: str | None,
        request_hash: str,
        body_html: str,
        by: str | None,
        author_id: int | None,
    ) -> Created:
        async with self._write() as conn:
            feed = await self._feed_row(conn, slug, lock=True)
            if key is not None:
                previous = (
                    await conn.execute(
                        select(idempotency_keys).where(
                            idempotency_keys.c.feed_id == feed.id, idempotency_keys.c.key == key
                        )
                    )
                ).first()
                if previous is not None:
                    if previous.request_hash != request_hash:
                        raise Conflict("Idempotency-Key was already used with a different body")
                    return Created(Entry.model_validate_json(previous.response), [], True)
            now = _now()
            public = data.status == PUBLISHED
            attached = await self._resolve_media(
                conn, feed, data.media, require_alt=_needs_alt(data.status)
            )
            made = await self._unpin_all(conn, feed, now) if data.pinned and public else []
            entry, change = await self._insert_entry(
                conn,
                feed,
                now,
                public=public,
                published_at=data.published_at or now,
                author=data.author or None,
                body=data.body,
                body_html=body_html,
                pinned=data.pinned,
                key_event=data.key_event,
                has_time=True,
                media=attached,
                status=data.status,
                publish_at=data.publish_at,
                edited_by=by,
                edited_by_id=author_id,
                author_id=author_id,
            )
            if change is not None:
                made.append(change)
            if key is not None:
                await conn.execute(
                    insert(idempotency_keys).values(
                        feed_id=feed.id,
                        key=key,
                        request_hash=request_hash,
                        entry_id=entry.id,
                        response=entry.model_dump_json(),
                        created_at=now,
                    )
                )
        return Created(entry, made, False)

    async def _insert_entry(
        self,
        conn: AsyncConnection,
        feed: Row[Any],
        now: datetime,
        body_html: str,
        *,
        public: bool = True,
        **fields: Any,
    ) -> tuple[Entry, Change | None]:
        """Insert an entry. A ``public`` one takes the feed's next rev and logs its
        ``created`` event (returned); any other takes rev 0 and logs nothing (None).
        ``body_html`` is its Markdown rendered off the loop, before the transaction."""
        rev = await self._next_rev(conn, feed.id, now) if public else 0
        row = (
            await conn.execute(
                _INSERT_ENTRY,
                {
                    "feed_id": feed.id,
                    "rev": rev,
                    "updated_at": now,
                    "html": entry_html(
                        body_html, [MediaItem.model_validate(m) for m in fields.get("media", [])]
                    ),
                    "deleted": False,
                    **fields,
                },
            )
        ).one()
        entry = _feed_entry(row, feed)
        if not public:
            return entry, None
        payload = entry_event("created", entry)
        await self._log(conn, feed.id, rev, payload, now)
        return entry, Change(feed.slug, rev, payload)

    async def _unpin_all(
        self, conn: AsyncConnection, feed: Row[Any], now: datetime, *, keep: int | None = None
    ) -> list[Change]:
        """One pinned entry per feed: unpin the current published one(s) (not ``keep``),
        each as its own logged revision, before the caller takes the rev of the entry it
        pins. Returns those changes. A pinned draft waits: it pins when it is published."""
        query = select(entries.c.id).where(
            entries.c.feed_id == feed.id, entries.c.pinned, _public()
        )
        if keep is not None:
            query = query.where(entries.c.id != keep)
        made: list[Change] = []
        for (pinned_id,) in (await conn.execute(query)).all():
            rev = await self._next_rev(conn, feed.id, now)
            await conn.execute(
                update(entries)
                .where(entries.c.id == pinned_id)
                .values(pinned=False, rev=rev, updated_at=now)
            )
            entry = await self._entry(conn, feed, pinned_id)
            payload = entry_event("updated", entry)
            await self._log(conn, feed.id, rev, payload, now)
            made.append(Change(feed.slug, rev, payload))
        return made

    async def _entry_row(self, conn: AsyncConnection, feed: Row[Any], entry_id: int) -> Row[Any]:
        if not 0 < entry_id <= MAX_ID:
            raise NotFound(f"entry {entry_id} not found in feed {feed.slug!r}")
        row = (await conn.execute(_ENTRY_BY_ID, {"p_id": entry_id, "p_feed_id": feed.id})).first()
        if row is None:
            raise NotFound(f"entry {entry_id} not found in feed {feed.slug!r}")
        return row

    async def _entry(self, conn: AsyncConnection, feed: Row[Any], entry_id: int) -> Entry:
        row = await self._entry_row(conn, feed, entry_id)
        return _feed_entry(row, feed)

    async def get_entry(self, slug: str, entry_id: int) -> Entry:
        """The entry in any status (the team's view; a deleted one is a tombstone)."""
        async with self._read() as conn:
            feed = await self._feed_row(conn, slug)
            return await self._entry(conn, feed, entry_id)

    async def get_public_entry(self, slug: str, entry_id: int) -> Entry:
        """The entry as readers may know it: a published one, or the tombstone of a deleted
        published one (``deleted``: pages answer 410). :class:`NotFound` for an entry that
        is not published (a draft, a submission, a scheduled or unpublished entry), exactly
        as for an unknown id, so readers cannot tell that it exists."""
        entry = await self.get_entry(slug, entry_id)
        if entry.status != PUBLISHED:
            raise NotFound(f"entry {entry_id} not found in feed {slug!r}")
        return entry

    async def update_entry(
        self,
        slug: str,
        entry_id: int,
        data: EntryUpdate,
        *,
        by: str | None = None,
        by_id: int | None = None,
    ) -> tuple[Entry, list[Change]]:
        """Edit fields and/or move the status of a (not deleted) entry; return it and the
        changes logged. ``by`` names the editor, ``by_id`` is their account (None for a
        bearer token).

        * Published before and after: an ``updated`` event (a pin also logs the unpin of the
          previously pinned entry, first). A changed body, media or author keeps the
          version it replaces as a revision and sets ``edited_at``.
        * Published by this call (``status: published``, or ``scheduled`` → due by the
          scheduler, see :meth:`publish_due`): a ``created`` event; ``published_at``
          becomes now unless given.
        * Unpublished by this call (``published`` → ``draft``): a ``deleted`` event.
        * Neither: nothing is logged (no rev). No-op edits return no changes.

        An illegal status change raises :class:`Conflict` (:mod:`app.workflow`)."""
        fields = data.model_dump(exclude_unset=True)
        body_html = await render_markdown_off_loop(data.body) if data.body is not None else None
        async with self._write() as conn:
            feed = await self._feed_row(conn, slug, lock=True)
            row = await self._entry_row(conn, feed, entry_id)
            current = _feed_entry(row, feed)
            if current.deleted:
                raise NotFound(f"entry {entry_id} was deleted")
            target: EntryStatus = data.status or (
                "scheduled" if data.publish_at is not None else current.status
            )
            _check_transition(current.status, target)
            values: dict[str, Any] = {}
            for name in ("media", "status", "publish_at"):
                fields.pop(name, None)
            if data.media is not None:
                attached = await self._resolve_media(
                    conn, feed, data.media, require_alt=_needs_alt(target)
                )
                if attached != [m.model_dump(mode="json") for m in current.media]:
                    values["media"] = attached
            elif _needs_alt(target) and not _needs_alt(current.status):
                _check_alt(current.media)
            for name, value in fields.items():
                if value is None and name != "author":
                    continue
                if name == "author":
                    value = value or None
                if getattr(current, name) != value:
                    values[name] = value
            if "published_at" in values:
                values["has_time"] = True
            if "body" in values or "media" in values:
                if body_html is None or "body" not in values:
                    body_html = await render_markdown_off_loop(current.body)
                values["html"] = entry_html(
                    body_html,
                    [MediaItem.model_validate(m) for m in values["media"]]
                    if "media" in values
                    else current.media,
                )
            if target != current.status:
                values["status"] = target
            publish_at = data.publish_at if target == "scheduled" else None
            if target == "scheduled" and publish_at is None:
                publish_at = row.publish_at  # staying scheduled: keep the time
            if publish_at != row.publish_at:
                values["publish_at"] = publish_at
            if not values:
                return current, []
            return await self._apply(
                conn, feed, row, current, values, by=by, by_id=by_id, reason="edit"
            )

    async def _apply(
        self,
        conn: AsyncConnection,
        feed: Row[Any],
        row: Row[Any],
        current: Entry,
        values: dict[str, Any],
        *,
        by: str | None,
        by_id: int | None,
        reason: str,
    ) -> tuple[Entry, list[Change]]:
        """Write ``values`` (a real change) to the entry ``row`` and log what readers must
        learn of it (see :meth:`update_entry`). A change of the content (body, media,
        author) of a published entry, or any restore, keeps the replaced version."""
        now = _now()
        before = current.status == PUBLISHED
        after = values.get("status", current.status) == PUBLISHED
        content = {"body", "media", "author"} & values.keys()
        if content:
            values["edited_by"] = by
            values["edited_by_id"] = by_id
            if before or reason == "restore":
                await self._keep_revision(conn, row, now, by, by_id, reason)
                values["revisions"] = row.revisions + 1
            if before and after:
                values["edited_at"] = now
        made: list[Change] = []
        if after and not before:
            values.setdefault("published_at", now)
            values["has_time"] = True
        pinned = values.get("pinned", current.pinned)
        if after and pinned and (values.get("pinned") or not before):
            made += await self._unpin_all(conn, feed, now, keep=current.id)
        rev = await self._next_rev(conn, feed.id, now) if before or after else None
        if rev is not None:
            values["rev"] = rev
        await conn.execute(
            update(entries).where(entries.c.id == current.id).values(**values, updated_at=now)
        )
        entry = await self._entry(conn, feed, current.id)
        if rev is None:
            return entry, made
        if before and after:
            payload = entry_event("updated", entry)
        elif after:
            payload = entry_event("created", entry)
        else:  # unpublished: readers see it go like a delete
            payload = entry_event("deleted", _withdrawn(entry, rev))
        await self._log(conn, feed.id, rev, payload, now)
        return entry, [*made, Change(feed.slug, rev, payload)]

    async def _keep_revision(
        self,
        conn: AsyncConnection,
        row: Row[Any],
        now: datetime,
        by: str | None,
        by_id: int | None,
        reason: str,
    ) -> None:
        """Keep the entry ``row``'s current version as its next revision."""
        await conn.execute(
            insert(entry_revisions).values(
                entry_id=row.id,
                number=row.revisions + 1,
                body=row.body,
                html=row.html,
                media=row.media or [],
                author=row.author,
                written_at=row.edited_at or row.published_at,
                written_by=row.edited_by,
                written_by_id=row.edited_by_id,
                replaced_at=now,
                replaced_by=by,
                replaced_by_id=by_id,
                reason=reason,
            )
        )

    async def delete_entry(
        self, slug: str, entry_id: int, *, by: str | None = None
    ) -> list[Change]:
        """Delete the entry (softly: its content stays in the row for :meth:`restore_entry`,
        never shown). A published one logs a ``deleted`` tombstone event (returned);
        any other logs nothing. Deleting twice is a no-op returning no changes."""
        del by  # who deleted is not kept yet
        async with self._write() as conn:
            feed = await self._feed_row(conn, slug, lock=True)
            row = await self._entry_row(conn, feed, entry_id)
            if row.deleted:
                return []
            now = _now()
            public = row.status == PUBLISHED
            values: dict[str, Any] = {"deleted": True, "pinned": False, "updated_at": now}
            if public:
                values["rev"] = await self._next_rev(conn, feed.id, now)
            await conn.execute(update(entries).where(entries.c.id == entry_id).values(**values))
            if not public:
                return []
            entry = await self._entry(conn, feed, entry_id)  # a tombstone: deleted
            payload = entry_event("deleted", entry)
            await self._log(conn, feed.id, entry.rev, payload, now)
        return [Change(slug, entry.rev, payload)]

    async def restore_entry(
        self, slug: str, entry_id: int, *, by: str | None = None
    ) -> tuple[Entry, list[Change]]:
        """Undelete an entry, as it was when deleted. A published one reappears for readers
        (a ``created`` event, returned). :class:`Conflict` if it is not deleted, or was
        deleted before deleted entries kept their content."""
        del by
        async with self._write() as conn:
            feed = await self._feed_row(conn, slug, lock=True)
            row = await self._entry_row(conn, feed, entry_id)
            if not row.deleted:
                raise Conflict(f"entry {entry_id} is not deleted")
            if not row.body:
                raise Conflict(f"entry {entry_id} was deleted before its text was kept")
            now = _now()
            public = row.status == PUBLISHED
            values: dict[str, Any] = {"deleted": False, "updated_at": now}
            if public:
                values["rev"] = await self._next_rev(conn, feed.id, now)
            await conn.execute(update(entries).where(entries.c.id == entry_id).values(**values))
            entry = await self._entry(conn, feed, entry_id)
            if not public:
                return entry, []
            payload = entry_event("created", entry)
            await self._log(conn, feed.id, entry.rev, payload, now)
        return entry, [Change(slug, entry.rev, payload)]

    async def list_revisions(self, slug: str, entry_id: int) -> list[EntryRevision]:
        """The entry's earlier versions, oldest first (deleted entries' too)."""
        async with self._read() as conn:
            feed = await self._feed_row(conn, slug)
            await self._entry_row(conn, feed, entry_id)
            rows = (
                await conn.execute(
                    select(entry_revisions)
                    .where(entry_revisions.c.entry_id == entry_id)
                    .order_by(entry_revisions.c.number)
                )
            ).all()
        zone = ZoneInfo(feed.timezone)
        return [_revision_from_row(row, zone) for row in rows]

    async def restore_revision(
        self,
        slug: str,
        entry_id: int,
        number: int,
        *,
        by: str | None = None,
        by_id: int | None = None,
    ) -> tuple[Entry, list[Change]]:
        """Make revision ``number``'s body, media and author the entry's current version: a
        new edit (the replaced version is kept too; a published entry logs ``updated``).
        :class:`NotFound` for an unknown revision or a deleted entry."""
        async with self._write() as conn:
            feed = await self._feed_row(conn, slug, lock=True)
            row = await self._entry_row(conn, feed, entry_id)
            if row.deleted:
                raise NotFound(f"entry {entry_id} was deleted")
            if not 0 < number <= MAX_ID:
                raise NotFound(f"entry {entry_id} has no revision {number}")
            old = (
                await conn.execute(
                    select(entry_revisions).where(
                        entry_revisions.c.entry_id == entry_id,
                        entry_revisions.c.number == number,
                    )
                )
            ).first()
            if old is None:
                raise NotFound(f"entry {entry_id} has no revision {number}")
            current = _feed_entry(row, feed)
            values = {"body": old.body, "html": old.html, "media": old.media or []}
            values["author"] = old.author
            return await self._apply(
                conn, feed, row, current, values, by=by, by_id=by_id, reason="restore"
            )

    async def publish_due(self, *, limit: int = 100) -> list[tuple[Entry, list[Change]]]:
        """Publish every scheduled entry whose ``publish_at`` has passed (at most ``limit``
        per call); return each entry this call published, with the changes it logged.
        Each entry is claimed by a conditional UPDATE (still ``scheduled``, still due, not
        deleted) in the transaction that logs its
        ``created`` event, so with several processes calling this at once each entry is
        published exactly once: a claim that finds the row already taken changes nothing."""
        now = _now()
        async with self._read() as conn:
            due = (
                await conn.execute(
                    select(entries.c.id, feeds.c.slug)
                    .select_from(entries.join(feeds, feeds.c.id == entries.c.feed_id))
                    .where(
                        entries.c.status == "scheduled",
                        entries.c.publish_at <= now,
                        ~entries.c.deleted,
                    )
                    .order_by(entries.c.publish_at, entries.c.id)
                    .limit(limit)
                )
            ).all()
        published = []
        for entry_id, slug in due:
            done = await self._publish_scheduled(slug, entry_id)
            if done is not None:
                published.append(done)
        return published

    async def _publish_scheduled(
        self, slug: str, entry_id: int
    ) -> tuple[Entry, list[Change]] | None:
        async with self._write() as conn:
            feed = await self._feed_row(conn, slug, lock=True)
            now = _now()
            claimed = await conn.execute(
                update(entries)
                .where(
                    entries.c.id == entry_id,
                    entries.c.status == "scheduled",
                    entries.c.publish_at <= now,
                    ~entries.c.deleted,
                )
                .values(status=PUBLISHED, publish_at=None, published_at=now, has_time=True)
            )
            if claimed.rowcount != 1:
                return None  # another process published it, or it was moved meanwhile
            row = await self._entry_row(conn, feed, entry_id)
            made = await self._unpin_all(conn, feed, now, keep=entry_id) if row.pinned else []
            rev = await self._next_rev(conn, feed.id, now)
            await conn.execute(
                update(entries).where(entries.c.id == entry_id).values(rev=rev, updated_at=now)
            )
            entry = await self._entry(conn, feed, entry_id)
            payload = entry_event("created", entry)
            await self._log(conn, feed.id, rev, payload, now)
        return entry, [*made, Change(slug, rev, payload)]

    async def list_team_entries(
        self, slug: str, statuses: Sequence[str], *, limit: int
    ) -> EntryPage:
        """The feed's entries in ``statuses`` (any of draft, submitted, scheduled,
        published, and ``deleted`` for deleted entries of any status, with their content),
        most recently changed first: the team's lists, never a reader's."""
        async with self._read() as conn:
            feed = await self._feed_row(conn, slug)
            wanted = [s for s in statuses if s != "deleted"]
            match = []
            if wanted:
                match.append(and_(entries.c.status.in_(wanted), ~entries.c.deleted))
            if "deleted" in statuses:
                match.append(entries.c.deleted)
            rows = (
                await conn.execute(
                    select(entries)
                    .where(entries.c.feed_id == feed.id, or_(*match))
                    .order_by(entries.c.updated_at.desc(), entries.c.id.desc())
                    .limit(limit)
                )
            ).all()
        zone = ZoneInfo(feed.timezone)
        return EntryPage(
            entries=[_entry_from_row(r, slug, zone, deleted_content=True) for r in rows],
            next_before=None,
            rev=feed.rev,
        )

    async def list_entries(
        self,
        slug: str,
        *,
        limit: int,
        before: int | None = None,
        around: int | None = None,
        after: int | None = None,
    ) -> EntryPage:
        """Newest-first page of public entries (published, not deleted). At most one cursor
        (each the id of a published entry of the feed, deleted ones included, else
        :class:`InvalidCursor`):

        * ``before``: the entries older than that one (the next page after it);
        * ``around``: that entry and the entries older than it (a deep link's page);
        * ``after``: the ``limit`` entries just newer than that one (paging back up).

        ``newer_after`` is set when entries newer than the page exist (``around``/``after``
        pages only): pass it as ``after`` for the page above."""
        cursor_id = before if before is not None else around if around is not None else after
        name = "before" if before is not None else "around" if around is not None else "after"
        async with self._read() as conn:
            feed = await self._feed_row(conn, slug)
            live = and_(entries.c.feed_id == feed.id, _public())
            query = select(entries).where(live)
            newer = None
            if cursor_id is not None:
                if not 0 < cursor_id <= MAX_ID:
                    raise InvalidCursor(f"{name}={cursor_id} is not an entry of feed {slug!r}")
                cursor = (
                    await conn.execute(
                        select(entries.c.published_at, entries.c.id).where(
                            entries.c.id == cursor_id,
                            entries.c.feed_id == feed.id,
                            entries.c.status == PUBLISHED,  # readers know no other entry
                        )
                    )
                ).first()
                if cursor is None:
                    raise InvalidCursor(f"{name}={cursor_id} is not an entry of feed {slug!r}")
                at = entries.c.published_at == cursor.published_at
                older = or_(
                    entries.c.published_at < cursor.published_at, and_(at, entries.c.id < cursor.id)
                )
                newer = or_(
                    entries.c.published_at > cursor.published_at, and_(at, entries.c.id > cursor.id)
                )
                if before is not None:
                    query = query.where(older)
                elif around is not None:
                    query = query.where(or_(older, entries.c.id == cursor.id))
                else:
                    query = query.where(newer)
            if after is not None:
                # The entries just above the cursor: read upwards, then show newest first.
                upwards = query.order_by(entries.c.published_at.asc(), entries.c.id.asc())
                above = (await conn.execute(upwards.limit(limit + 1))).all()
                rows = list(reversed(above[:limit]))
                has_newer = len(above) > limit
                has_older = True  # the cursor itself is below this page
            else:
                downwards = query.order_by(entries.c.published_at.desc(), entries.c.id.desc())
                below = (await conn.execute(downwards.limit(limit + 1))).all()
                rows = list(below[:limit])
                has_older = len(below) > limit
                has_newer = False
                if around is not None and newer is not None:
                    newer_row = select(entries.c.id).where(live, newer).limit(1)
                    has_newer = (await conn.execute(newer_row)).first() is not None
        zone = ZoneInfo(feed.timezone)
        page = [_entry_from_row(row, slug, zone) for row in rows]
        return EntryPage(
            entries=page,
            next_before=page[-1].id if has_older and page else None,
            rev=feed.rev,
            newer_after=page[0].id if has_newer and page else None,
        )

    async def highlights(
        self, slug: str, *, key_events: int = 20
    ) -> tuple[Entry | None, list[Entry]]:
        """The pinned entry (if any) and the newest ``key_events`` key events, wherever they
        sit in the timeline — for the top of a reader page, whose first page may not hold them."""
        async with self._read() as conn:
            feed = await self._feed_row(conn, slug)
            live = and_(entries.c.feed_id == feed.id, _public())
            pinned = (
                await conn.execute(select(entries).where(live, entries.c.pinned).limit(1))
            ).first()
            keys = (
                await conn.execute(
                    select(entries)
                    .where(live, entries.c.key_event)
                    .order_by(entries.c.published_at.desc(), entries.c.id.desc())
                    .limit(key_events)
                )
            ).all()
        zone = ZoneInfo(feed.timezone)
        return (
            _entry_from_row(pinned, slug, zone) if pinned is not None else None,
            [_entry_from_row(row, slug, zone) for row in keys],
        )

    # -- media ------------------------------------------------------------------------------

    async def preview_media(self, slug: str, refs: Sequence[int | MediaRef]) -> list[MediaItem]:
        """``refs`` as an entry would carry them, for a draft's preview: the same checks as
        publishing except that alt text may still be missing."""
        async with self._read() as conn:
            feed = await self._feed_row(conn, slug)
            found = await self._resolve_media(conn, feed, refs, require_alt=False)
        return [MediaItem.model_validate(item) for item in found]

    async def _resolve_media(
        self,
        conn: AsyncConnection,
        feed: Row[Any],
        refs: Sequence[int | MediaRef],
        *,
        require_alt: bool = True,
    ) -> list[dict[str, Any]]:
        """Media items (as JSON dicts) for ``refs``, in order, with per-entry text overrides.
        Raises :class:`InvalidMedia` for an id not uploaded to this feed, a repeated id or
        an image without alt text (``""`` is a deliberate empty alt)."""
        if not refs:
            return []
        ids = [ref if isinstance(ref, int) else ref.id for ref in refs]
        if len(set(ids)) != len(ids):
            raise InvalidMedia("media: the same id is listed twice")
        rows = {
            row.id: row
            for row in (
                await conn.execute(
                    select(media).where(media.c.feed_id == feed.id, media.c.id.in_(ids))
                )
            ).all()
        }
        items: list[dict[str, Any]] = []
        for ref in refs:
            media_id = ref if isinstance(ref, int) else ref.id
            row = rows.get(media_id)
            if row is None:
                raise InvalidMedia(f"media: no upload {media_id} in feed {feed.slug!r}")
            item = media_item_from_row(row)
            if isinstance(ref, MediaRef):
                overrides = ref.model_dump(exclude_unset=True, exclude={"id"})
                item = item.model_copy(update=overrides)
            if require_alt and item.kind == "image" and item.alt is None:
                raise InvalidMedia(
                    f"media {media_id}: alt text is required "
                    '(send "alt": "" only for a purely decorative image)'
                )
            items.append(item.model_dump(mode="json"))
        return items

    async def create_media(self, slug: str, new: NewMedia) -> MediaItem:
        """Record an upload or a link card (no revision: nothing is published yet)."""
        async with self._write() as conn:
            feed = await self._feed_row(conn, slug)
            media_id = (
                await conn.execute(
                    insert(media)
                    .values(
                        feed_id=feed.id,
                        kind=new.kind,
                        content_type=new.content_type,
                        width=new.width,
                        height=new.height,
                        alt=new.alt,
                        caption=new.caption,
                        credit=new.credit,
                        renditions=new.renditions,
                        card=new.card,
                        created_at=_now(),
                    )
                    .returning(media.c.id)
                )
            ).scalar_one()
            row = (await conn.execute(select(media).where(media.c.id == media_id))).one()
        return media_item_from_row(row)

    async def delete_media(self, media_id: int) -> None:
        """Forget a media row (a failed upload's)."""
        async with self._write() as conn:
            await conn.execute(media.delete().where(media.c.id == media_id))

    async def get_card(self, media_id: int) -> tuple[MediaItem, dict[str, Any]] | None:
        """A link card's public item and its stored card data (with the player)."""
        async with self._read() as conn:
            row = (
                await conn.execute(
                    select(media).where(media.c.id == media_id, media.c.kind == "card")
                )
            ).first()
        return None if row is None else (media_item_from_row(row), dict(row.card or {}))

    async def media_keys(self) -> set[str]:
        """Every storage key a media row owns."""
        async with self._read() as conn:
            rows = (await conn.execute(select(media.c.renditions))).scalars().all()
        return {r["key"] for renditions in rows for r in renditions or []}

    async def prune_media(self, older_than: datetime) -> tuple[int, list[str]]:
        """Delete media rows created before ``older_than`` that no entry (in any status,
        deleted ones included: they can be restored) and no kept revision carries; return
        how many, and the storage keys they owned."""
        async with self._write() as conn:
            used: set[int] = set()
            for column in (entries.c.media, entry_revisions.c.media):  # restorable versions too
                for items in (await conn.execute(select(column))).scalars():
                    used.update(int(item["id"]) for item in items or [])
            rows = (
                await conn.execute(
                    select(media.c.id, media.c.renditions).where(media.c.created_at < older_than)
                )
            ).all()
            unused = [row for row in rows if row.id not in used]
            if unused:
                await conn.execute(media.delete().where(media.c.id.in_([r.id for r in unused])))
        return len(unused), [r["key"] for row in unused for r in row.renditions or []]

    # -- change log -----------------------------------------------------------------------

    async def current_rev(self, slug: str) -> int:
        if not is_valid_slug(slug):
            raise NotFound(f"feed {slug!r} not found")
        async with self._read() as conn:
            rev = (await conn.execute(select(feeds.c.rev).where(feeds.c.slug == slug))).first()
        if rev is None:
            raise NotFound(f"feed {slug!r} not found")
        return int(rev[0])

    async def changes_since(
        self, slug: str, since: int, *, limit: int
    ) -> tuple[int, list[tuple[int, bytes]]]:
        """(feed rev, up to ``limit`` logged events with rev > since, in rev order)."""
        since = min(max(since, 0), MAX_REV)  # revs are 1…2^63-1: same answer, no overflow
        async with self._read() as conn:
            feed = await self._feed_row(conn, slug)
            rows = (
                await conn.execute(
                    select(changes.c.rev, changes.c.payload)
                    .where(changes.c.feed_id == feed.id, changes.c.rev > since)
                    .order_by(changes.c.rev)
                    .limit(limit)
                )
            ).all()
        return int(feed.rev), [(int(rev), payload.encode()) for rev, payload in rows]

    # -- import ---------------------------------------------------------------------------

    async def import_entries(self, slug: str, items: Sequence[ImportedEntry]) -> list[Change]:
        """Insert imported entries (oldest first) without clock times; skip already-imported
        ones (same ``import_key``). One transaction; returns the changes made."""
        made: list[Change] = []
        rendered = [await render_markdown_off_loop(item.body) for item in items]
        async with self._write() as conn:
            feed = await self._feed_row(conn, slug, lock=True)
            known = set(
                (
                    await conn.execute(
                        select(entries.c.import_key).where(
                            entries.c.feed_id == feed.id, entries.c.import_key.is_not(None)
                        )
                    )
                ).scalars()
            )
            for item, body_html in zip(items, rendered, strict=True):
                if item.import_key in known:
                    continue
                known.add(item.import_key)
                _entry, change = await self._insert_entry(
                    conn,
                    feed,
                    _now(),
                    published_at=item.published_at,
                    author=None,
                    body=item.body,
                    body_html=body_html,
                    pinned=False,
                    key_event=False,
                    has_time=False,
                    import_key=item.import_key,
                )
                assert change is not None  # public: logged
                made.append(change)
        return made


__all__ = ["EntryOp", "ImportedEntry", "NewMedia", "Store", "TokenOwner"]
