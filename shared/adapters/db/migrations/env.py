"""Alembic environment: async engines, URL from the alembic config or DATABASE_URL."""

from __future__ import annotations

import asyncio

from alembic import context
from alembic.util import CommandError
from sqlalchemy.engine import Connection

from shared.adapters.db.engine import create_engine
from shared.adapters.db.models import Base
from shared.config import Settings

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    """The URL `dripr migrate` set; run as plain `alembic upgrade head` (no alembic.ini), the
    same DATABASE_URL every service reads."""
    try:
        url = config.get_main_option("sqlalchemy.url")
    except CommandError:  # no ini file: configuration lives in pyproject.toml
        url = None
    return url or Settings().database_url


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_engine(_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_migrate)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
