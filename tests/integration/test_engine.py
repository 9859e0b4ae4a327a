"""The MySQL engine's connection handling: no doubled ROLLBACK, and a ping only after idling.

`make bench` measured a ROLLBACK after every COMMIT (the pool's reset on return) and a ping on
every checkout: two round trips per session. What replaced them must still survive connections
that the server drops, idle or busy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.adapters.db import engine as engines

pytestmark = pytest.mark.mysql


@pytest.fixture
async def engine(database_url: str, is_mysql: bool) -> AsyncIterator[AsyncEngine]:
    if not is_mysql:
        pytest.skip("MySQL connection handling")
    made = engines.create_engine(database_url, pool_size=1, max_overflow=0)
    yield made
    await made.dispose()


async def _questions(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as connection:
        own = await connection.scalar(text("SELECT CONNECTION_ID()"))
        rows = await connection.execute(
            text("SHOW SESSION STATUS WHERE Variable_name IN ('Com_rollback', 'Com_commit')")
        )
        counts = {name: int(value) for name, value in rows}
    return int(own or 0), counts["Com_rollback"]


async def _kill(database_url: str, connection_id: int) -> None:
    other = engines.create_engine(database_url)
    async with other.connect() as connection:
        await connection.execute(text(f"KILL CONNECTION {connection_id}"))
    await other.dispose()


async def test_a_committed_session_is_not_rolled_back_again(engine: AsyncEngine) -> None:
    sessions = engines.session_factory(engine)
    _, before = await _questions(engine)
    for _ in range(3):
        async with sessions() as session:
            await session.execute(text("SELECT 1"))
            await session.commit()
    _, after = await _questions(engine)
    # Each _questions() connection closes with one ROLLBACK of its own read; nothing more.
    assert after - before == 1


async def test_a_connection_dropped_while_idle_is_replaced_unseen(
    engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engines, "PING_AFTER_IDLE_SECONDS", 0.0)
    connection_id, _ = await _questions(engine)
    await _kill(database_url, connection_id)
    async with engine.connect() as connection:  # the ping finds it dead: a fresh one instead
        assert await connection.scalar(text("SELECT 1")) == 1
        assert await connection.scalar(text("SELECT CONNECTION_ID()")) != connection_id


async def test_a_connection_dropped_while_busy_fails_once_then_the_pool_recovers(
    engine: AsyncEngine, database_url: str
) -> None:
    connection_id, _ = await _questions(engine)
    await _kill(database_url, connection_id)
    with pytest.raises(OperationalError):  # in steady use: no ping, the statement meets it
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT 1")) == 1


async def test_the_reader_reads_outside_transactions_with_no_rollback_to_end_them(
    database_url: str, is_mysql: bool
) -> None:
    """The pre-work read, the pause gate, the idempotency look: one statement each."""
    if not is_mysql:
        pytest.skip("MySQL connection handling")
    reader = engines.create_reader(database_url)
    assert reader is not None
    sessions = engines.session_factory(reader)
    try:

        async def rollbacks() -> tuple[int, int]:
            async with sessions() as session:
                own = int(await session.scalar(text("SELECT CONNECTION_ID()")) or 0)
                row = (await session.execute(text("SHOW SESSION STATUS LIKE 'Com_rollback'"))).one()
            return own, int(row[1])

        connection, before = await rollbacks()
        for _ in range(3):
            async with sessions() as session:
                assert await session.scalar(text("SELECT @@autocommit")) == 1
        same, after = await rollbacks()
        assert same == connection  # one connection, reused
        assert after == before
    finally:
        await reader.dispose()


def test_sqlite_reads_through_the_writer() -> None:
    assert engines.create_reader("sqlite+aiosqlite:///x.db") is None
