"""Breakers as the services meet them: the adapters they open are guarded, and successes are cheap.

The chaos run found the sender's SES mailer wired without its breaker: an outage failed every
recipient after three attempts and never paused anything. Here SES really answers 503 (the
chaos fault proxy in front of the emulator), and the mailer `open_mailer` gives the sender
must count those failures until the breaker opens and the pipeline pauses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from infra.provision import Report
from shared.adapters.db.models import CircuitBreakerRow, PipelineStateRow
from shared.adapters.providers.mailer import OutgoingEmail
from shared.bootstrap import Runtime, bootstrap
from shared.bootstrap.providers import open_mailer
from shared.config import Settings
from shared.domain.errors import TransientError
from shared.domain.statuses import BreakerState, PipelineState
from shared.service_layer.breakers import CircuitBreaker
from shared.service_layer.pausing import ensure_rows
from tests.chaos.environment import Ground, fault_proxy


@pytest.fixture
def ses_down(aws_endpoint: str, tmp_path: Path) -> Iterator[Ground]:
    with fault_proxy(aws_endpoint, tmp_path / "proxy.log") as proxy:
        ground = Ground("", "", aws_endpoint, proxy.url, proxy, None)
        ground.set_faults("ses_send")
        yield ground


async def test_an_ses_outage_opens_the_ses_breaker_through_the_wired_mailer(
    settings: Settings, sessions: object, topology: Report, ses_down: Ground
) -> None:
    through_proxy = settings.model_copy(update={"aws_endpoint_url": ses_down.proxy})
    async with bootstrap(through_proxy) as runtime:
        async with runtime.sessions() as session:
            await ensure_rows(session)
            await session.execute(
                update(CircuitBreakerRow)
                .where(CircuitBreakerRow.name == "ses")
                .values(threshold=2, state=BreakerState.CLOSED, failures=0)
            )
            await session.commit()
        mailer = await open_mailer(runtime)
        email = OutgoingEmail("owner@homeowners.example", "Your home", "<p>hi</p>", "hi")
        for _ in range(2):
            with pytest.raises(TransientError, match="ServiceUnavailable"):
                await mailer.send(email)
        async with runtime.sessions() as session:
            breaker = await session.get(CircuitBreakerRow, "ses")
            pipeline = await session.get(PipelineStateRow, 1)
        assert breaker is not None and breaker.state is BreakerState.OPEN
        assert breaker.failures == 2 and "chaos: ses is down" in (breaker.last_error or "")
        assert pipeline is not None and pipeline.state is PipelineState.PAUSED
    assert ses_down.fault_stats()["ses_send"] >= 2


async def _failures(runtime: Runtime) -> int:
    async with runtime.sessions() as session:
        row = await session.get(CircuitBreakerRow, "bedrock")
    assert row is not None
    return row.failures


async def test_a_success_clears_the_count_without_a_write_per_call(runtime: Runtime) -> None:
    async def fail() -> None:
        raise TransientError("bedrock", "ThrottlingException: slow down")

    async def work() -> str:
        return "ok"

    async with runtime.sessions() as session:
        await ensure_rows(session)
        await session.commit()
    mine, other_replica = (CircuitBreaker("bedrock", runtime.sessions) for _ in range(2))
    for _ in range(2):
        with pytest.raises(TransientError):
            await mine.call(fail)
    assert await _failures(runtime) == 2
    assert await mine.call(work) == "ok"  # its own failures: cleared at once
    assert await _failures(runtime) == 0

    assert await other_replica.call(work) == "ok"  # reads the count (0): no write from now on
    with pytest.raises(TransientError):
        await mine.call(fail)
    assert await other_replica.call(work) == "ok"  # within its second: does not know yet
    assert await _failures(runtime) == 1
    await asyncio.sleep(1.1)
    assert await other_replica.call(work) == "ok"  # a second later it reads 1 and clears it
    assert await _failures(runtime) == 0
