"""The scheduler: the only timed component of dripr.

Each tick it starts the cycle of every campaign whose next_send_datetime has arrived
(DORMANT → WAITING_FOR_DATA, through the transition function and the outbox) and republishes
outbox rows a crash or an SNS error left behind (and measures what is still waiting there).
Each cycle it starts is the root of that cycle's trace. Any number of replicas may run: the
compare-and-set on the campaign row starts each cycle exactly once. While the pipeline is
paused (an open circuit breaker) it starts nothing new.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime

import structlog

from shared.bootstrap import Runtime
from shared.domain.clock import utcnow_naive
from shared.domain.statuses import PipelineState
from shared.domain.transitions import TransitionRefused, Trigger
from shared.observability.tracing import span
from shared.service_layer.transitions import fire
from shared.service_layer.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)


async def start_due_campaigns(
    unit_of_work: Callable[[], UnitOfWork], now: datetime | None = None, limit: int = 200
) -> int:
    """Start every due campaign's cycle, each in a unit of work of its own; how many started."""
    now = now or utcnow_naive()
    async with unit_of_work().reading() as uow:
        if await uow.pipeline.state() is PipelineState.PAUSED:
            return 0  # a paused pipeline starts no new cycle; they start after the resume
        due = await uow.campaigns.due(now, limit)
    started = 0
    for campaign_id in due:
        with span("scheduler start_cycle", attributes={"dripr.campaign_id": campaign_id}):
            async with unit_of_work() as uow:
                try:
                    await fire(uow, campaign_id, Trigger.SCHEDULE, now=now)
                except TransitionRefused:
                    continue  # another replica started it first, or an operator did
                await uow.commit()
                started += 1
    if started:
        log.info("scheduler.started_cycles", count=started)
    return started


async def tick(runtime: Runtime) -> None:
    await start_due_campaigns(runtime.unit_of_work)
    await runtime.relay.sweep()
    await runtime.relay.measure_backlog()


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    interval = runtime.settings.scheduler_interval_seconds
    while not stop.is_set():
        runtime.heartbeats.beat("scheduler")
        try:
            await tick(runtime)
        except Exception:  # a database blip must not stop the clock
            log.exception("scheduler.tick_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
    runtime.heartbeats.stopped("scheduler")
