from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.provision import Report, provision
from shared.adapters.db.engine import create_engine, session_factory
from shared.adapters.db.migrate import upgrade
from shared.adapters.db.models import Base
from shared.bootstrap import Runtime, bootstrap
from shared.config import Settings
from shared.devtools.emulator import moto_server, reset_sent_emails
from tests.support import mysql_reachable, scratch_mysql_database


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """MySQL when a server answers (always in CI), else a SQLite file; migrated once."""
    explicit = os.environ.get("DRIPR_TEST_DATABASE_URL")
    if explicit:
        upgrade(explicit)
        yield explicit
        return
    if mysql_reachable():
        with scratch_mysql_database() as url:
            upgrade(url)
            yield url
        return
    if os.environ.get("CI") == "true":
        pytest.exit("CI=true but no MySQL answers at 127.0.0.1:3306; refusing to fall back", 2)
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'dripr.db'}"
    upgrade(url)
    yield url


@pytest.fixture(scope="session")
def is_mysql(database_url: str) -> bool:
    return database_url.startswith("mysql")


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """moto in server mode, started here; or DRIPR_TEST_AWS_ENDPOINT (LocalStack, say)."""
    external = os.environ.get("DRIPR_TEST_AWS_ENDPOINT")
    if external:
        yield external
        return
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def settings(database_url: str, aws_endpoint: str) -> Settings:
    reset_sent_emails(aws_endpoint)  # each test also gets its own name prefix below
    return Settings(
        database_url=database_url,
        aws_endpoint_url=aws_endpoint,
        aws_max_attempts=1,  # let emulator errors show, not retries hide them
        env=f"t{uuid.uuid4().hex[:8]}",
        wait_time_seconds=1,
        shutdown_grace_seconds=5,
        outbox_grace_seconds=0,
        log_format="console",
    )


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory on a database emptied before the test."""
    engine = create_engine(database_url)
    factory = session_factory(engine)
    async with factory() as session:
        for table in reversed(Base.metadata.sorted_tables):
            await session.execute(delete(table))
        await session.commit()
    yield factory
    await engine.dispose()


@pytest.fixture
def topology(settings: Settings) -> Report:
    return provision(settings)


@pytest.fixture
async def runtime(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], topology: Report
) -> AsyncIterator[Runtime]:
    async with bootstrap(settings) as runtime:
        yield runtime


EVENTS = Path(__file__).parent / "events"
