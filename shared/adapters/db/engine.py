"""Engines and sessions for MySQL (production) and SQLite (the embedded default)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

PING_AFTER_IDLE_SECONDS = 5.0


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url, **kwargs)
    return _mysql_engine(url, **kwargs)


def _mysql_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """MySQL with two round trips fewer per session, measured by `make bench`.

    - No reset on return: every Session and Connection here ends its transaction (commit, or
      rollback on close) before the connection goes back, so the pool's own ROLLBACK doubled
      each one.
    - A ping only for a connection idle longer than PING_AFTER_IDLE_SECONDS, not on every
      checkout: a connection in steady use is known good. One dropped while busy fails its next
      statement; SQLAlchemy then discards the pool's older connections, and the message that
      met it is retried by SQS, as the chaos run's dropped-connection fault shows.
    """
    engine = create_async_engine(url, pool_recycle=1800, pool_reset_on_return=None, **kwargs)

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dbapi_connection.ping(False)
        except Exception as exc:  # the pool retries the checkout on a fresh connection
            raise DisconnectionError(str(exc)) from exc

    return engine


READER_POOL_SIZE = 3
"""Reads take a millisecond: three connections serve a process's handlers, and no overflow
connections, which the pool would open and close again at every burst (`make bench` counted
200 connects in a run with two plus three)."""


def create_reader(url: str) -> AsyncEngine | None:
    """An engine for reads that need no transaction, or None where the writer's will do.

    A read-only transaction on MySQL is the SELECT plus a ROLLBACK to end it (the campaign read
    before a step's work, the idempotency look, the pause gate, a breaker's count): `make bench`
    counted one such ROLLBACK per message. On connections in autocommit each SELECT is its own
    transaction and SQLAlchemy skips the ROLLBACK (`skip_autocommit_rollback`). Its own small
    pool, so a connection is set to autocommit once, when it connects, not at each checkout.
    SQLite (one writer at a time) reads through the writer's engine.
    """
    if make_url(url).get_backend_name() == "sqlite":
        return None
    return _mysql_engine(
        url,
        isolation_level="AUTOCOMMIT",
        skip_autocommit_rollback=True,
        pool_size=READER_POOL_SIZE,
        max_overflow=0,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def _sqlite_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """SQLite shared by several processes: WAL, a busy timeout, and BEGIN IMMEDIATE.

    BEGIN IMMEDIATE takes the write lock up front, so a transaction that reads and then writes
    never fails with SQLITE_BUSY half-way; writers queue on the busy timeout instead. That is what
    makes the campaign-row compare-and-set safe without MySQL's row locks.
    """
    kwargs.pop("pool_size", None)  # SQLite's pool is per file; it takes no sizes
    kwargs.pop("max_overflow", None)
    engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let the begin hook below own transactions
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


MYSQL_CONNECTION_ERRORS = frozenset({2002, 2003, 2005, 2006, 2013, 2055})
"""MySQL client errors that mean no server to talk to: can't connect (2002, 2003), unknown
host (2005), server gone away (2006), connection lost (2013, 2055)."""


def database_unreachable(exc: BaseException) -> bool:
    """Whether `exc` says the database server cannot be reached, not that a statement failed."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    args: tuple[object, ...] = tuple(getattr(exc.orig, "args", ()))
    return bool(args) and args[0] in MYSQL_CONNECTION_ERRORS
