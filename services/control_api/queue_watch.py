"""The control API's watch on the queues: depths and waiting ages, as gauges and as an hour's
history for the overview's chart.

Only the control API reads every queue (the consumers each know their own), so it is the one
process that exports `dripr_queue_messages` and `dripr_queue_oldest_age_seconds`. It reads
them every DRIPR_QUEUE_WATCH_SECONDS; a failed read is logged and tried again next time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass

import structlog

from shared.adapters.topology import TOPOLOGY
from shared.bootstrap import Runtime
from shared.domain.clock import utcnow_naive
from shared.observability import metrics
from shared.views import activity
from shared.views.monitoring import queue_depth

log = structlog.get_logger(__name__)

KEEP = 120
"""Samples kept for the chart: an hour at the default 30 s."""


@dataclass(frozen=True)
class DepthSample:
    at: str
    """ISO timestamp with its zone."""
    visible: int
    in_flight: int
    delayed: int
    dead_letters: int


class QueueWatch:
    def __init__(self, runtime: Runtime, interval: float) -> None:
        self._runtime = runtime
        self._interval = interval
        self.samples: deque[DepthSample] = deque(maxlen=KEEP)

    async def sample(self) -> DepthSample:
        runtime = self._runtime
        depths = await asyncio.gather(
            *(queue_depth(runtime.sqs, runtime.names, spec) for spec in TOPOLOGY.queues)
        )
        now = utcnow_naive()
        async with runtime.sessions() as session:
            ages = await activity.oldest_waiting(session, now)
        for depth in depths:
            for state in ("visible", "in_flight", "delayed", "dead_letters"):
                labels = {"queue": depth.name, "state": state}
                metrics.queue_messages.set(getattr(depth, state), labels)
        for queue, age in ages.items():
            metrics.queue_oldest_age.set(age, {"queue": queue})
        sample = DepthSample(
            at=now.isoformat() + "Z",
            visible=sum(d.visible for d in depths),
            in_flight=sum(d.in_flight for d in depths),
            delayed=sum(d.delayed for d in depths),
            dead_letters=sum(d.dead_letters for d in depths),
        )
        self.samples.append(sample)
        return sample

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sample()
            except Exception as exc:  # the endpoint or the database is down: next time
                log.warning("queue_watch.failed", error=f"{type(exc).__name__}: {exc}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)
