"""The accounts store: users, feed memberships, sessions, password-reset links and failed
logins. It shares the :class:`~app.store.Store`'s engine and its transactions.

Contracts:

* Email addresses are unique case-insensitively (``users.email_key`` = the address lowered);
  the address is kept as typed.
* Session and reset tokens are random (256 bits) and stored only as SHA-256 hashes (a fast
  hash is enough for that much entropy). :meth:`AccountStore.session` reads the database on
  every call (no cache): a logout, logout-everywhere, disabled account or password reset is
  seen at once by every process. It refreshes ``last_seen_at`` at most once a minute.
* A new session deletes every expired one (the table holds only live sessions).
* Disabling an account deletes its sessions (re-enabling revives none); using a reset link
  sets the password and deletes every session of the account, and a link works once:
  the ``used_at IS NULL`` update decides, so two processes cannot both use it.
* Failed logins are rows per (scope, key) so the login limit holds across processes; rows
  older than the window are deleted as new ones are written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.permissions import Role
from app.schemas import MAX_ID, MemberInfo, UserInfo
from app.store.errors import Conflict, NotFound
from app.store.store import Store
from app.store.tables import (
    entries,
    feeds,
    login_failures,
    memberships,
    password_resets,
    sessions,
    users,
)
from app.tokens import hash_token, new_secret

#: last_seen_at is written at most this often per session (a write per request would
#: serialize every reporter's request on SQLite).
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


def _now() -> datetime:
    return datetime.now(UTC)


def email_key(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True, slots=True)
class Account:
    """A user account as the API shows it (never its password hash)."""

    id: int
    email: str
    display_name: str
    role: Role
    disabled_at: datetime | None
    created_at: datetime
    has_password: bool
    #: Role per feed slug, from the account's memberships.
    feeds: dict[str, Role]

    def info(self) -> UserInfo:
        """The API's view of the account."""
        return UserInfo(
            id=self.id,
            email=self.email,
            display_name=self.display_name,
            role=self.role.value,
            disabled=self.disabled_at is not None,
            created_at=self.created_at,
            has_password=self.has_password,
            feeds={slug: role.value for slug, role in self.feeds.items()},
        )


@dataclass(frozen=True, slots=True)
class SessionAccount:
    """A valid session and the (enabled) account it belongs to."""

    session_id: int
    account: Account


@dataclass(frozen=True, slots=True)
class Member:
    user_id: int
    email: str
    display_name: str
    role: Role
    disabled: bool

    def info(self) -> MemberInfo:
        return MemberInfo(
            user_id=self.user_id,
            email=self.email,
            display_name=self.display_name,
            role=self.role.value,
            disabled=self.disabled,
        )


class AccountStore:
    """Every query of the accounts tables. Each public method is one transaction."""

    def __init__(self, store: Store) -> None:
        # The store's transactions: one engine, and on SQLite one writer queue per process.
        self._store = store

    # -- users --------------------------------------------------------------------------

    async def create_user(
        self, email: str, display_name: str, role: Role, password_hash: str | None
    ) -> Account:
        """Create an account; :class:`Conflict` when the address is taken (any case)."""
        try:
            async with self._store._write() as conn:
                user_id = (
                    await conn.execute(
                        insert(users)
                        .values(
                            email=email.strip(),
                            email_key=email_key(email),
                            display_name=display_name,
                            password_hash=password_hash,
                            role=role.value,
                            created_at=_now(),
                        )
                        .returning(users.c.id)
                    )
                ).scalar_one()
                return await self._account(conn, user_id)
        except IntegrityError:
            raise Conflict(f"an account with the address {email.strip()!r} exists") from None

    async def get_user(self, user_id: int) -> Account:
        async with self._store._read() as conn:
            return await self._account(conn, user_id)

    async def find_user(self, email: str) -> Account | None:
        async with self._store._read() as conn:
            user_id = (
                await conn.execute(select(users.c.id).where(users.c.email_key == email_key(email)))
            ).scalar_one_or_none()
            return None if user_id is None else await self._account(conn, user_id)

    async def list_users(self) -> list[Account]:
        async with self._store._read() as conn:
            rows = (await conn.execute(select(users).order_by(users.c.id))).all()
            roles = await self._feed_roles(conn, [row.id for row in rows])
        return [_account(row, roles.get(row.id, {})) for row in rows]

    async def update_user(
        self,
        user_id: int,
        *,
        display_name: str | None = None,
        role: Role | None = None,
        disabled: bool | None = None,
    ) -> Account:
        """Change an account. Disabling deletes its sessions: it loses access at once."""
        values: dict[str, Any] = {}
        if display_name is not None:
            values["display_name"] = display_name
        if role is not None:
            values["role"] = role.value
        async with self._store._write() as conn:
            current = await self._account(conn, user_id)
            if disabled is True and current.disabled_at is None:
                values["disabled_at"] = _now()
            elif disabled is False:
                values["disabled_at"] = None
            if values:
                await conn.execute(update(users).where(users.c.id == user_id).values(**values))
            if disabled:
                await conn.execute(delete(sessions).where(sessions.c.user_id == user_id))
            return await self._account(conn, user_id)

    async def credentials(self, email: str) -> tuple[Account, str | None] | None:
        """The account of ``email`` and its password hash (None: no such account)."""
        async with self._store._read() as conn:
            row = (
                await conn.execute(select(users).where(users.c.email_key == email_key(email)))
            ).first()
            if row is None:
                return None
            roles = await self._feed_roles(conn, [row.id])
        return _account(row, roles.get(row.id, {})), row.password_hash

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        async with self._store._write() as conn:
            await conn.execute(
                update(users).where(users.c.id == user_id).values(password_hash=password_hash)
            )

    async def display_name(self, user_id: int) -> str | None:
        async with self._store._read() as conn:
            return (
                await conn.execute(select(users.c.display_name).where(users.c.id == user_id))
            ).scalar_one_or_none()

    async def count_admins(self) -> int:
        async with self._store._read() as conn:
            return (
                await conn.execute(
                    select(func.count()).select_from(users).where(users.c.role == Role.ADMIN.value)
                )
            ).scalar_one()

    async def entry_owner(self, slug: str, entry_id: int) -> tuple[str, bool, int | None]:
        """(status, deleted, author account id) of an entry, for the own-entry rights;
        :class:`NotFound` for an unknown feed or entry."""
        async with self._store._read() as conn:
            feed_id = await self._feed_id(conn, slug)
            row = None
            if 0 < entry_id <= MAX_ID:
                row = (
                    await conn.execute(
                        select(entries.c.status, entries.c.deleted, entries.c.author_id).where(
                            entries.c.feed_id == feed_id, entries.c.id == entry_id
                        )
                    )
                ).first()
        if row is None:
            raise NotFound(f"entry {entry_id} not found in feed {slug!r}")
        return row.status, row.deleted, row.author_id

    # -- memberships --------------------------------------------------------------------

    async def set_membership(self, slug: str, user_id: int, role: Role) -> Member:
        """Make the account a member of the feed with ``role`` (or change its role)."""
        async with self._store._write() as conn:
            feed_id = await self._feed_id(conn, slug)
            await self._account(conn, user_id)
            changed = await conn.execute(
                update(memberships)
                .where(memberships.c.feed_id == feed_id, memberships.c.user_id == user_id)
                .values(role=role.value)
            )
            if changed.rowcount == 0:
                await conn.execute(
                    insert(memberships).values(
                        feed_id=feed_id, user_id=user_id, role=role.value, created_at=_now()
                    )
                )
            return (await self._members(conn, feed_id, user_id))[0]

    async def remove_membership(self, slug: str, user_id: int) -> None:
        """Remove the account from the feed; :class:`NotFound` if it was not a member."""
        async with self._store._write() as conn:
            feed_id = await self._feed_id(conn, slug)
            removed = await conn.execute(
                delete(memberships).where(
                    memberships.c.feed_id == feed_id, memberships.c.user_id == user_id
                )
            )
        if removed.rowcount == 0:
            raise NotFound(f"account {user_id} is not a member of feed {slug!r}")

    async def list_members(self, slug: str) -> list[Member]:
        async with self._store._read() as conn:
            return await self._members(conn, await self._feed_id(conn, slug), None)

    # -- sessions -----------------------------------------------------------------------

    async def create_session(self, user_id: int, lifetime: timedelta) -> str:
        """A new session of the account; returns its token (only the hash is stored)."""
        token = new_secret()
        now = _now()
        async with self._store._write() as conn:
            # Expired sessions authenticate nothing: dropping them here keeps the table
            # bounded by the sessions signed in within one lifetime.
            await conn.execute(delete(sessions).where(sessions.c.expires_at <= now))
            await conn.execute(
                insert(sessions).values(
                    token_hash=hash_token(token),
                    user_id=user_id,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + lifetime,
                )
            )
        return token

    async def session(self, token: str) -> SessionAccount | None:
        """The session of ``token`` with its account, if the session is unexpired and the
        account enabled; else None. Read from the database on every call."""
        now = _now()
        async with self._store._read() as conn:
            row = (
                await conn.execute(
                    select(
                        users,
                        sessions.c.id.label("session_id"),
                        sessions.c.last_seen_at.label("last_seen_at"),
                    )
                    .select_from(sessions.join(users, users.c.id == sessions.c.user_id))
                    .where(
                        sessions.c.token_hash == hash_token(token),
                        sessions.c.expires_at > now,
                        users.c.disabled_at.is_(None),
                    )
                )
            ).first()
            if row is None:
                return None
            roles = await self._feed_roles(conn, [row.id])
        if now - row.last_seen_at >= LAST_SEEN_RESOLUTION:
            async with self._store._write() as conn:
                await conn.execute(
                    update(sessions).where(sessions.c.id == row.session_id).values(last_seen_at=now)
                )
        return SessionAccount(row.session_id, _account(row, roles.get(row.id, {})))

    async def end_session(self, token: str) -> None:
        async with self._store._write() as conn:
            await conn.execute(delete(sessions).where(sessions.c.token_hash == hash_token(token)))

    async def end_all_sessions(self, user_id: int) -> int:
        """Delete every session of the account; returns how many there were."""
        async with self._store._write() as conn:
            result = await conn.execute(delete(sessions).where(sessions.c.user_id == user_id))
        return result.rowcount

    # -- password resets ----------------------------------------------------------------

    async def create_reset(self, user_id: int, lifetime: timedelta) -> str:
        """A one-time reset token for the account (only the hash is stored)."""
        token = new_secret()
        now = _now()
        async with self._store._write() as conn:
            await self._account(conn, user_id)
            await conn.execute(
                insert(password_resets).values(
                    token_hash=hash_token(token),
                    user_id=user_id,
                    created_at=now,
                    expires_at=now + lifetime,
                )
            )
        return token

    async def reset_account(self, token: str) -> Account | None:
        """The account a usable (unused, unexpired) reset token is for, else None."""
        async with self._store._read() as conn:
            user_id = (
                await conn.execute(select(password_resets.c.user_id).where(self._usable(token)))
            ).scalar_one_or_none()
            return None if user_id is None else await self._account(conn, user_id)

    async def use_reset(self, token: str, password_hash: str) -> Account | None:
        """Use a reset token once: set the password, end every session of the account.
        None when the token is unknown, used or expired (nothing changes then)."""
        async with self._store._write() as conn:
            user_id = (
                await conn.execute(
                    update(password_resets)
                    .where(self._usable(token))
                    .values(used_at=_now())
                    .returning(password_resets.c.user_id)
                )
            ).scalar_one_or_none()
            if user_id is None:
                return None
            await conn.execute(
                update(users).where(users.c.id == user_id).values(password_hash=password_hash)
            )
            await conn.execute(delete(sessions).where(sessions.c.user_id == user_id))
            return await self._account(conn, user_id)

    def _usable(self, token: str) -> Any:
        return and_(
            password_resets.c.token_hash == hash_token(token),
            password_resets.c.used_at.is_(None),
            password_resets.c.expires_at > _now(),
        )

    # -- failed logins ------------------------------------------------------------------

    async def recent_failures(
        self, keys: Sequence[tuple[str, str]], window: timedelta
    ) -> dict[tuple[str, str], tuple[int, datetime | None]]:
        """Per (scope, key): failures within ``window`` and the oldest of them."""
        since = _now() - window
        found: dict[tuple[str, str], tuple[int, datetime | None]] = {}
        async with self._store._read() as conn:
            for scope, key in keys:
                count, oldest = (
                    await conn.execute(
                        select(func.count(), func.min(login_failures.c.at)).where(
                            login_failures.c.scope == scope,
                            login_failures.c.key == key,
                            login_failures.c.at > since,
                        )
                    )
                ).one()
                found[(scope, key)] = (count, _aware(oldest))
        return found

    async def record_failure(self, keys: Sequence[tuple[str, str]], window: timedelta) -> None:
        now = _now()
        async with self._store._write() as conn:
            await conn.execute(delete(login_failures).where(login_failures.c.at <= now - window))
            for scope, key in keys:
                await conn.execute(insert(login_failures).values(scope=scope, key=key, at=now))

    async def clear_failures(self, scope: str, key: str) -> None:
        async with self._store._write() as conn:
            await conn.execute(
                delete(login_failures).where(
                    login_failures.c.scope == scope, login_failures.c.key == key
                )
            )

    # -- helpers ------------------------------------------------------------------------

    async def _feed_id(self, conn: AsyncConnection, slug: str) -> int:
        feed_id = (
            await conn.execute(select(feeds.c.id).where(feeds.c.slug == slug))
        ).scalar_one_or_none()
        if feed_id is None:
            raise NotFound(f"feed {slug!r} not found")
        return int(feed_id)

    async def _account(self, conn: AsyncConnection, user_id: int) -> Account:
        row = None
        if 0 < user_id <= MAX_ID:
            row = (await conn.execute(select(users).where(users.c.id == user_id))).first()
        if row is None:
            raise NotFound(f"account {user_id} not found")
        roles = await self._feed_roles(conn, [user_id])
        return _account(row, roles.get(user_id, {}))

    async def _feed_roles(
        self, conn: AsyncConnection, user_ids: Sequence[int]
    ) -> dict[int, dict[str, Role]]:
        if not user_ids:
            return {}
        rows = await conn.execute(
            select(memberships.c.user_id, memberships.c.role, feeds.c.slug)
            .select_from(memberships.join(feeds, feeds.c.id == memberships.c.feed_id))
            .where(memberships.c.user_id.in_(user_ids))
            .order_by(feeds.c.slug)
        )
        found: dict[int, dict[str, Role]] = {}
        for row in rows:
            found.setdefault(row.user_id, {})[row.slug] = Role(row.role)
        return found

    async def _members(
        self, conn: AsyncConnection, feed_id: int, user_id: int | None
    ) -> list[Member]:
        query = (
            select(
                users.c.id,
                users.c.email,
                users.c.display_name,
                users.c.disabled_at,
                memberships.c.role,
            )
            .select_from(memberships.join(users, users.c.id == memberships.c.user_id))
            .where(memberships.c.feed_id == feed_id)
            .order_by(users.c.id)
        )
        if user_id is not None:
            query = query.where(users.c.id == user_id)
        return [
            Member(
                user_id=row.id,
                email=row.email,
                display_name=row.display_name,
                role=Role(row.role),
                disabled=row.disabled_at is not None,
            )
            for row in await conn.execute(query)
        ]


def _aware(value: datetime | None) -> datetime | None:
    # func.min() bypasses the column type: SQLite hands back a naive string-parsed datetime.
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _account(row: Row[Any], feed_roles: dict[str, Role]) -> Account:
    return Account(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        role=Role(row.role),
        disabled_at=row.disabled_at,
        created_at=row.created_at,
        has_password=row.password_hash is not None,
        feeds=feed_roles,
    )
