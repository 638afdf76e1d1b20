"""Engine construction: SQLite (WAL, immediate write transactions, one thread hop per
statement) or PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# Execution option marking a connection whose transactions will write. On SQLite such a
# transaction starts with BEGIN IMMEDIATE, so two writers queue on the lock instead of
# failing with SQLITE_BUSY when they upgrade a read lock.
WRITE_OPTION = "livefeed_write"


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """Create the async engine for ``url`` with the settings livefeed relies on."""
    if url.startswith("sqlite"):
        args, options = SQLiteDialect_aiosqlite().create_connect_args(make_url(url))
        options["timeout"] = 30

        async def connect() -> OneHopConnection:
            return await OneHopConnection.open(*args, **options)

        engine = create_async_engine(url, async_creator=connect)
        _configure_sqlite(engine)
        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so "begin" below decides how to begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        writes = connection.get_execution_options().get(WRITE_OPTION, False)
        driver = connection.connection.driver_connection
        assert isinstance(driver, OneHopConnection)
        driver.begin_with_next_statement("BEGIN IMMEDIATE" if writes else "BEGIN")


class OneHopConnection(aiosqlite.Connection):
    """aiosqlite's connection (its own thread runs every SQLite call), with cursors that
    cost one trip to that thread per statement instead of four.

    SQLAlchemy's aiosqlite adapter creates a cursor, executes, fetches every row and
    closes the cursor for each statement: four trips through the thread's queue, each a
    future, a thread wake-up and a loop wake-up (~45 µs of CPU, and a loop turn of wait
    while the loop is busy). :class:`OneHopCursor` does all four in one call on the
    thread and keeps the results; reading them costs no trip. A transaction's BEGIN goes
    with its first statement (:meth:`begin_with_next_statement`), and a COMMIT or ROLLBACK
    with no transaction open makes no trip. A new published entry is five trips (its four
    statements, the first carrying the BEGIN, and the COMMIT); it was about 25.

    Relies on two aiosqlite internals, checked by ``tests/unit/store/test_engine.py``:
    ``_execute(fn, *args)`` runs ``fn`` on the connection's thread and returns its result,
    and ``_conn`` is the ``sqlite3.Connection`` it owns.
    """

    @classmethod
    async def open(cls, database: str, **options: Any) -> OneHopConnection:
        """Connect like ``aiosqlite.connect(database, **options)``."""

        def connector() -> sqlite3.Connection:
            made: sqlite3.Connection = sqlite3.connect(database, **options)
            return made

        connection = cls(connector, iter_chunk_size=64)
        # Like SQLAlchemy's own aiosqlite connect: the thread must not keep a process alive.
        connection._thread.daemon = True
        await connection
        return connection

    #: The BEGIN statement the next statement runs first, on the same trip (or None).
    _pending_begin: str | None = None

    def cursor(self) -> OneHopCursor:  # type: ignore[override]
        return OneHopCursor(self)

    def begin_with_next_statement(self, begin: str) -> None:
        """Begin the transaction (``begin``: ``BEGIN`` or ``BEGIN IMMEDIATE``) on the next
        statement's trip, right before it. Its failure (e.g. the database is locked past
        the busy timeout) is then that statement's; a transaction ended before any
        statement ran never began."""
        self._pending_begin = begin

    def take_pending_begin(self) -> str | None:
        """The BEGIN to run before the statement now sent to the thread, once."""
        begin, self._pending_begin = self._pending_begin, None
        return begin

    async def commit(self) -> None:
        """Commit the open transaction; no trip to the thread when there is none."""
        if self._ending_open_transaction():
            await super().commit()

    async def rollback(self) -> None:
        """Roll back the open transaction; no trip to the thread when there is none.

        SQLAlchemy's pool rolls back every connection given back to it, also right after a
        COMMIT, when SQLite (the driver in autocommit mode, see ``_configure_sqlite``) has
        no transaction open: ``sqlite3.Connection.rollback`` (like ``commit``) then does
        nothing, but the trip to do nothing cost as much as a statement. ``in_transaction``
        is the same check ``sqlite3`` makes, read here on the loop: it may be read from any
        thread, and nothing runs on this connection's thread between two awaited calls."""
        if self._ending_open_transaction():
            await super().rollback()

    def _ending_open_transaction(self) -> bool:
        """A transaction ends: forget a BEGIN not sent yet (it never began), and say whether
        one is open on the thread, the only case where ending it is worth a trip."""
        self._pending_begin = None
        return self._conn.in_transaction


class OneHopCursor:
    """The part of ``aiosqlite.Cursor`` SQLAlchemy's adapter uses; ``execute`` and
    ``executemany`` are one trip to the connection's thread each, the rest none."""

    def __init__(self, connection: OneHopConnection) -> None:
        self._connection = connection
        self._rows: deque[Any] = deque()
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    async def __aenter__(self) -> OneHopCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Any = None) -> OneHopCursor:
        self._take(await self._on_thread(_run, sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Any) -> OneHopCursor:
        self._take(await self._on_thread(_run_many, sql, parameters))
        return self

    async def _on_thread(self, fn: Any, sql: str, parameters: Any) -> Any:
        connection = self._connection
        begin = connection.take_pending_begin()
        return await connection._execute(fn, connection._conn, begin, sql, parameters)  # type: ignore[no-untyped-call]

    def _take(self, ran: tuple[Any, int, int | None, list[Any]]) -> None:
        self.description, self.rowcount, self.lastrowid, rows = ran
        self._rows = deque(rows)

    async def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = min(len(self._rows), self.arraysize if size is None else size)
        return [self._rows.popleft() for _ in range(count)]

    async def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    async def close(self) -> None:
        self._rows.clear()


def _run(
    connection: sqlite3.Connection, begin: str | None, sql: str, parameters: Sequence[Any] | None
) -> tuple[Any, int, int | None, list[Any]]:
    """On the connection's thread: ``begin`` if any, execute, fetch every row, close the
    cursor."""
    cursor = connection.cursor()
    try:
        if begin is not None:
            cursor.execute(begin)
        if parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def _run_many(
    connection: sqlite3.Connection, begin: str | None, sql: str, parameters: Any
) -> tuple[Any, int, int | None, list[Any]]:
    cursor = connection.cursor()
    try:
        if begin is not None:
            cursor.execute(begin)
        cursor.executemany(sql, parameters)
        return cursor.description, cursor.rowcount, cursor.lastrowid, []
    finally:
        cursor.close()
