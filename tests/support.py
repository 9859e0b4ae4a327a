"""Local stand-ins the tests share: an emulator server process and a scratch database."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
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


MAX_SLACK = 6.0
"""However busy the machine, a wait gives up after this many times its quiet-machine deadline."""


def slack() -> float:
    """How many times longer than on a quiet machine work takes now: the run-queue per core.

    CI runs on a developer's machine beside whatever else it does; at a load of 7 on two cores
    an emulator round trip takes several times as long, and a fixed deadline turns that into a
    failure that is not a bug.
    """
    load, _, _ = os.getloadavg()
    return min(MAX_SLACK, max(1.0, load / (os.cpu_count() or 1)))


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float = 20.0, interval: float = 0.1
) -> None:
    """Wait for a state, not for a time: `check` until it holds.

    `within` is the deadline on a quiet machine; it stretches with the machine's load, read as
    the wait goes on (up to MAX_SLACK times), so a busy machine slows a test down instead of
    failing it, while a state that never comes still fails.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not await check():
        waited = loop.time() - started
        if waited > within * slack():
            raise AssertionError(
                f"condition not met within {waited:.0f}s ({within}s allowed on a quiet machine, "
                f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
            )
        await asyncio.sleep(interval)


async def queues_drained(sqs: Any, queue_urls: Iterable[str]) -> bool:
    """No message waiting or being worked on in any of these queues (delayed ones aside)."""
    for url in queue_urls:
        attributes = (
            await sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )
        )["Attributes"]
        if set(attributes.values()) != {"0"}:
            return False
    return True
