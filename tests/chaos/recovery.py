"""How long the pipeline took to finish the work a fault interrupted, from the database.

For each fault window (a SIGKILL from the kill to the restart; an outage from its start to the
dependency's return), the work it interrupted is every event for the affected consumers that
was written before the window ended (during an outage, into the outbox), was not finished when
it began, and was finished later (an event that turned out stale, or was dead-lettered, leaves
no processed marker and is not counted).
The recovery is from the window's end (the restart, the return) until the last of those was
finished; for a replicated service it is also given from the kill, as the second replica may
take the work over. Time in which another fault held the whole pipeline (an outage, the pause
an open breaker causes until the operator resumes) is left out: it is that fault's, not this
one's recovery. Events and markers carry wall-clock times written by the services.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from shared.adapters.db.models import OutboxEvent, ProcessedEvent
from shared.adapters.topology import TOPOLOGY
from shared.bootstrap import Runtime
from shared.domain.statuses import CampaignStatus


@dataclass(frozen=True)
class Window:
    kind: str
    """sigkill, endpoint_outage, database_outage; or paused (a breaker's pause, only held
    against the others)."""
    service: str | None
    """The killed service; None for an outage (every consumer is affected)."""
    began: datetime
    ended: datetime
    """The restart, or the dependency's return."""


@dataclass(frozen=True)
class Recovery:
    kind: str
    service: str
    interrupted: int
    """Events for the affected consumers waiting when the fault began or written during it."""
    seconds_after_end: float
    seconds_after_start: float


async def measure(runtime: Runtime, windows: list[Window]) -> list[Recovery]:
    async with runtime.sessions() as session:
        events = list(
            await session.execute(
                select(
                    OutboxEvent.event_id,
                    OutboxEvent.to_status,
                    OutboxEvent.queue,
                    OutboxEvent.created_at,
                )
            )
        )
        markers = list(
            await session.execute(
                select(
                    ProcessedEvent.consumer, ProcessedEvent.event_id, ProcessedEvent.processed_at
                )
            )
        )
    finished: dict[tuple[str, str], datetime] = {
        (consumer, event_id): at for consumer, event_id, at in markers
    }
    receivers: dict[str, set[str]] = defaultdict(set)
    created: dict[str, datetime] = {}
    for event_id, to_status, queue, created_at in events:
        created[event_id] = created_at
        if queue is not None:
            receivers[event_id].add(queue)
        elif to_status:
            receivers[event_id] |= TOPOLOGY.receivers_of(CampaignStatus(to_status))
    holds = [w for w in windows if w.kind != "sigkill"]
    results = []
    for window in windows:
        if window.kind == "paused":
            continue
        consumers = (
            {spec.name for spec in TOPOLOGY.queues_of(window.service)}
            if window.service
            else {spec.name for spec in TOPOLOGY.queues}
        )
        interrupted = [
            finished[(consumer, event_id)]
            for event_id, at in created.items()
            if at < window.ended
            for consumer in receivers[event_id] & consumers
            if (consumer, event_id) in finished and finished[(consumer, event_id)] > window.began
        ]
        last = max(interrupted, default=window.began)
        held = _overlap(window.ended, last, [h for h in holds if h is not window])
        results.append(
            Recovery(
                kind=window.kind,
                service=window.service or "all",
                interrupted=len(interrupted),
                seconds_after_end=round(max(0.0, (last - window.ended).total_seconds() - held), 1),
                seconds_after_start=round(
                    max(0.0, (last - window.began).total_seconds() - held), 1
                ),
            )
        )
    return results


def _overlap(start: datetime, end: datetime, holds: list[Window]) -> float:
    """Seconds of [start, end] that any of `holds` covers (overlapping holds counted once)."""
    spans = sorted((max(start, h.began), min(end, h.ended)) for h in holds)
    covered, reach = 0.0, start
    for began, ended in spans:
        began = max(began, reach)
        if ended > began:
            covered += (ended - began).total_seconds()
            reach = ended
    return covered


def table(recoveries: list[Recovery]) -> list[dict[str, object]]:
    """p50 and max per fault kind and service, as the report prints them."""
    groups: dict[tuple[str, str], list[Recovery]] = defaultdict(list)
    for recovery in recoveries:
        groups[(recovery.kind, recovery.service)].append(recovery)
    rows = []
    for (kind, service), group in sorted(groups.items()):
        after_end = sorted(r.seconds_after_end for r in group)
        after_start = sorted(r.seconds_after_start for r in group)
        rows.append(
            {
                "fault": kind,
                "service": service,
                "faults": len(group),
                "interrupted_events": sum(r.interrupted for r in group),
                "p50_after_end_s": after_end[(len(after_end) - 1) // 2],
                "max_after_end_s": after_end[-1],
                "p50_after_start_s": after_start[(len(after_start) - 1) // 2],
                "max_after_start_s": after_start[-1],
            }
        )
    return rows
