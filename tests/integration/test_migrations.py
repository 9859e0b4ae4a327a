"""Migrations are the only source of the schema: they must build exactly what the models say."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from shared.adapters.db.engine import create_engine
from shared.adapters.db.migrate import upgrade
from shared.adapters.db.models import Base
from tests.support import mysql_reachable, scratch_mysql_database


@pytest.fixture
def empty_database(is_mysql: bool, tmp_path: Path) -> Iterator[str]:
    if is_mysql and mysql_reachable():
        with scratch_mysql_database() as url:
            yield url
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"


def _differences(url: str) -> list[object]:
    async def run() -> list[object]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:

                def compare(sync: Connection) -> list[object]:
                    context = MigrationContext.configure(sync, opts={"compare_type": True})
                    return list(compare_metadata(context, Base.metadata))

                return await connection.run_sync(compare)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _tables(url: str) -> set[str]:
    async def run() -> set[str]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_upgrade_builds_the_schema_the_models_describe(empty_database: str) -> None:
    upgrade(empty_database)

    assert _differences(empty_database) == []


def test_downgrade_to_base_and_back_again(empty_database: str) -> None:
    upgrade(empty_database)
    upgrade_cli = [sys.executable, "-m", "alembic"]
    env = {"DATABASE_URL": empty_database, "PATH": str(Path(sys.executable).parent)}

    root = Path(__file__).parents[2]  # where pyproject.toml holds [tool.alembic]
    subprocess.run([*upgrade_cli, "downgrade", "base"], check=True, env=env, cwd=root)
    assert _tables(empty_database) == {"alembic_version"}
    subprocess.run([*upgrade_cli, "upgrade", "head"], check=True, env=env, cwd=root)

    assert _differences(empty_database) == []
