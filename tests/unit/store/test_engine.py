"""SQLite through :class:`app.store.engine.OneHopConnection`: each statement is one trip to
aiosqlite's thread, and what SQLAlchemy reads of a cursor is what it was before."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.engine import WRITE_OPTION, OneHopConnection, make_engine

metadata = MetaData()
items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String, nullable=False),
)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/one-hop.db")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


def test_the_aiosqlite_internals_it_relies_on_exist() -> None:
    # OneHopCursor calls Connection._execute(fn, *args) and reads Connection._conn.
    assert callable(getattr(aiosqlite.Connection, "_execute", None))
    assert isinstance(getattr(aiosqlite.Connection, "_conn", None), property)


async def test_rows_rowcount_and_returning_read_as_before(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        first = (
            await conn.execute(insert(items).values(name="a").returning(items.c.id))
        ).scalar_one()
        await conn.execute(insert(items), [{"name": "b"}, {"name": "c"}])  # executemany
        changed = await conn.execute(update(items).where(items.c.name != "a").values(name="z"))
        assert changed.rowcount == 2
        rows = (await conn.execute(select(items.c.id, items.c.name).order_by(items.c.id))).all()
    assert first == 1
    assert [tuple(row) for row in rows] == [(1, "a"), (2, "z"), (3, "z")]
    async with engine.connect() as conn:
        result = await conn.execute(select(items.c.name).order_by(items.c.id))
        assert result.fetchone() == ("a",)
        assert result.fetchmany(5) == [("z",), ("z",)]
        assert (await conn.execute(text("select count(*) from items"))).scalar_one() == 3


async def test_an_error_reaches_the_caller_and_the_connection_stays_usable(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as conn:
        with pytest.raises(Exception, match="no such table"):
            await conn.execute(text("select * from missing"))
        await conn.rollback()
        assert (await conn.execute(text("select 1"))).scalar_one() == 1


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of each function sent to an aiosqlite thread from now on, in order."""
    sent: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: object, *args: object) -> object:
        sent.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return sent


async def test_each_statement_is_one_trip_to_the_thread(
    engine: AsyncEngine, trips: list[str]
) -> None:
    async with engine.connect() as conn:
        assert isinstance((await conn.get_raw_connection()).driver_connection, OneHopConnection)
        await conn.execute(text("select 1"))  # the transaction's BEGIN is behind us
        trips.clear()
        rows = (await conn.execute(select(items.c.id))).all()
        assert rows == []
        # aiosqlite's own cursor made four: cursor, execute, fetchall, close.
        assert trips == ["_run"]


async def test_a_connection_given_back_after_commit_makes_no_rollback_trip(
    engine: AsyncEngine, trips: list[str]
) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(items).values(name="kept"))
    # The insert (carrying the BEGIN), the COMMIT; the pool's reset-on-return found no
    # transaction open.
    assert trips == ["_run", "commit"]
    trips.clear()
    async with engine.begin():
        pass  # nothing ran: nothing began, nothing to commit
    assert trips == []
    async with engine.connect() as conn:
        assert (await conn.execute(select(items.c.name))).all() == [("kept",)]


async def test_a_connection_given_back_inside_a_transaction_is_rolled_back(
    engine: AsyncEngine,
) -> None:
    # The pool's reset still undoes what was not committed (SQLAlchemy's Connection.close
    # rolls back its own transaction; this one is opened behind its back, on the driver).
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, OneHopConnection)
        await driver.execute("BEGIN")
        await driver.execute("INSERT INTO items (name) VALUES ('undone')")
        assert driver._conn.in_transaction
        await conn.commit()  # SQLAlchemy's transaction (none began) ends; the driver's does not
    async with engine.connect() as conn:
        count = (await conn.execute(text("select count(*) from items"))).scalar_one()
    assert count == 0


async def test_a_write_transaction_takes_the_write_lock_at_its_first_statement(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    # Its BEGIN IMMEDIATE goes with the first statement, a read here: from then on another
    # writer waits (and fails after its busy timeout), as with a BEGIN of its own.
    other = make_engine(f"sqlite+aiosqlite:///{tmp_path}/one-hop.db")
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(**{WRITE_OPTION: True})
            async with conn.begin():
                assert (await conn.execute(select(items.c.id))).all() == []
                async with other.connect() as blocked:
                    await blocked.exec_driver_sql("PRAGMA busy_timeout=50")
                    await blocked.commit()
                    blocked = await blocked.execution_options(**{WRITE_OPTION: True})
                    with pytest.raises(Exception, match="database is locked"):
                        await blocked.execute(insert(items).values(name="second"))
                    await blocked.rollback()
                await conn.execute(insert(items).values(name="first"))
        # The failed BEGIN left the other connection usable.
        async with other.begin() as conn:
            await conn.execute(insert(items).values(name="second"))
        async with other.connect() as conn:
            names = (await conn.execute(select(items.c.name).order_by(items.c.id))).all()
        assert names == [("first",), ("second",)]
    finally:
        await other.dispose()
