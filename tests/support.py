"""Local stand-ins the tests share: an emulator server process and a scratch database."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from shared.adapters.db.engine import create_engine

MYSQL_SERVER_URL = os.environ.get("DRIPR_TEST_MYSQL_URL", "mysql+asyncmy://root@127.0.0.1:3306")


def mysql_reachable(server_url: str = MYSQL_SERVER_URL) -> bool:
    url = make_url(server_url)
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 3306), timeout=1):
            pass
    except OSError:
        return False

    async def _ping() -> None:
        engine = create_engine(server_url)
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    try:
        asyncio.run(_ping())
    except Exception:
        return False
    return True


@contextmanager
def scratch_mysql_database(server_url: str = MYSQL_SERVER_URL) -> Iterator[str]:
    """A database of our own on the MySQL server, dropped afterwards."""
    name = f"dripr_test_{uuid.uuid4().hex[:10]}"

    async def _run(sql: str) -> None:
        engine = create_engine(server_url)
        try:
            async with engine.begin() as connection:
                await connection.execute(text(sql))
        finally:
            await engine.dispose()

    asyncio.run(_run(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    try:
        yield f"{server_url.rstrip('/')}/{name}"
    finally:
        asyncio.run(_run(f"DROP DATABASE IF EXISTS `{name}`"))


async def receive_all(
    sqs: Any, queue_url: str, *, wait: int = 0, rounds: int = 3
) -> list[dict[str, Any]]:
    """Receive (and delete) whatever a queue holds."""
    messages: list[dict[str, Any]] = []
    for _ in range(rounds):
        response = await sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        )
        batch = response.get("Messages", [])
        for message in batch:
            await sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        messages.extend(batch)
        if not batch:
            break
    return messages


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float = 20.0, interval: float = 0.1
) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(interval)
