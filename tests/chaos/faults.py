"""The faults a chaos run injects, each written down as it happens."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text

from shared.adapters.db.models import OutboxEvent
from shared.adapters.topology import TOPOLOGY
from shared.bootstrap import Runtime
from shared.devtools.demo.processes import ServiceProcess
from shared.domain.statuses import CampaignStatus
from tests.chaos.environment import Ground

BAD_MARKER = "chaos-bad-"


@dataclass(frozen=True)
class Fault:
    at: float
    kind: str
    detail: str


@dataclass
class FaultLog:
    started: float = field(default_factory=time.monotonic)
    faults: list[Fault] = field(default_factory=list)
    say: Callable[[str], None] = print

    def note(self, kind: str, detail: str) -> None:
        fault = Fault(round(time.monotonic() - self.started, 1), kind, detail)
        self.faults.append(fault)
        self.say(f"  ! [{fault.at:6.1f}s] {kind}: {detail}")


def bad_bodies(marker: str) -> list[tuple[str, str]]:
    """(kind, body) of messages no consumer may act on; each carries the marker to find it by."""
    return [
        ("malformed", f"{marker} this is not JSON {{"),
        ("malformed", json.dumps({"event_type": "STATUS_CHANGE", "chaos": marker})),
        (
            "malformed",
            json.dumps(
                {
                    "event_type": "STATUS_CHANGE",
                    "version": 1,
                    "campaign_id": "not-a-number",
                    "to_status": "WAITING_FOR_DATA",
                    "chaos": marker,
                }
            ),
        ),
        ("foreign", json.dumps({"type": "order.created", "order_id": 81, "chaos": marker})),
        (
            "foreign",
            json.dumps(
                {
                    "Type": "Notification",
                    "MessageId": marker,
                    "Message": json.dumps({"invoice": 7, "chaos": marker}),
                }
            ),
        ),
    ]


class Chaos:
    """Injects faults into a running pipeline: processes, messages, AWS, the database."""

    def __init__(
        self,
        runtime: Runtime,
        ground: Ground,
        processes: Sequence[ServiceProcess],
        log: FaultLog,
        rng: random.Random,
    ) -> None:
        self.runtime = runtime
        self.ground = ground
        self.processes = list(processes)
        self.log = log
        self.rng = rng
        self.markers: dict[str, str] = {}
        """Marker of each bad message → the queue it was sent to."""
        self.down: set[str] = set()
        """Processes killed on purpose and not yet restarted."""
        self._aws_faults: set[str] = set()
        self._bad_sent = 0

    # -- processes -------------------------------------------------------------------------
    async def kill_one(self) -> None:
        """SIGKILL a random service process; restart it after a moment, as an orchestrator would."""
        candidates = [p for p in self.processes if p.name != "control_api" and p.running]
        if not candidates:
            return
        victim = self.rng.choice(candidates)
        self.down.add(victim.label)
        await asyncio.to_thread(victim.kill)
        pause = round(self.rng.uniform(0.3, 2.0), 1)
        self.log.note("sigkill", f"{victim.label} killed; restarting in {pause}s")
        await asyncio.sleep(pause)
        await asyncio.to_thread(victim.start)
        self.down.discard(victim.label)

    async def keep_killing(self, count: int, every: float) -> None:
        for _ in range(count):
            await asyncio.sleep(self.rng.uniform(0.5, 1.5) * every)
            await self.kill_one()

    # -- messages --------------------------------------------------------------------------
    async def send_bad_messages(self, count: int) -> None:
        """Malformed and foreign messages onto service queues: each must be dead-lettered."""
        for _ in range(count):
            marker = f"{BAD_MARKER}{self._bad_sent}"
            bodies = bad_bodies(marker)
            kind, body = bodies[self._bad_sent % len(bodies)]
            spec = self.rng.choice(TOPOLOGY.queues)
            await self.runtime.sqs.send_message(
                QueueUrl=await self.runtime.queue_url(spec), MessageBody=body
            )
            self.markers[marker] = spec.name
            self._bad_sent += 1
            self.log.note(kind, f"{marker} onto {spec.name}")

    async def deliver_again(self, sample: int | None) -> int:
        """Published events sent to their queues again, as SQS's at-least-once delivery may."""
        async with self.runtime.sessions() as session:
            events = list(
                await session.scalars(
                    select(OutboxEvent).where(OutboxEvent.published_at.is_not(None))
                )
            )
        if sample is not None and len(events) > sample:
            events = self.rng.sample(events, sample)
        sent = 0
        for event in events:
            if event.queue is not None:
                names = {event.queue}
            elif event.to_status:
                names = set(TOPOLOGY.receivers_of(CampaignStatus(event.to_status)))
            else:
                continue
            for name in names:
                await self.runtime.sqs.send_message(
                    QueueUrl=await self.runtime.queue_url(TOPOLOGY.queue(name)),
                    MessageBody=event.payload,
                )
                sent += 1
        return sent

    async def keep_duplicating(self, rounds: int, every: float, sample: int) -> None:
        for _ in range(rounds):
            await asyncio.sleep(every)
            sent = await self.deliver_again(sample)
            self.log.note("duplicates", f"{sent} copies of already-delivered events")

    # -- AWS and the database ----------------------------------------------------------------
    async def aws_fault(self, name: str, on: bool) -> None:
        if on:
            self._aws_faults.add(name)
        else:
            self._aws_faults.discard(name)
        await asyncio.to_thread(self.ground.set_faults, *sorted(self._aws_faults))

    async def publish_outage(self, seconds: float) -> None:
        """SNS refuses every Publish for a while: committed events must wait in the outbox."""
        await self.aws_fault("sns_publish", True)
        self.log.note("sns_publish_failure", f"SNS Publish answers 503 for {seconds:.0f}s")
        await asyncio.sleep(seconds)
        await self.aws_fault("sns_publish", False)
        failed = (await asyncio.to_thread(self.ground.fault_stats)).get("sns_publish", 0)
        self.log.note("sns_publish_failure", f"over: {failed} Publish calls failed so far")

    async def drop_database_connections(self) -> int:
        """KILL every server connection of the services (MySQL); SQLite has none to drop."""
        if not self.runtime.settings.database_url.startswith("mysql"):
            self.log.note("db_connection_drop", "skipped: SQLite has no server connections")
            return 0
        async with self.runtime.engine.connect() as connection:
            database = await connection.scalar(text("SELECT DATABASE()"))
            own = await connection.scalar(text("SELECT CONNECTION_ID()"))
            rows = await connection.execute(
                text("SELECT id FROM information_schema.processlist WHERE db = :db AND id != :own"),
                {"db": database, "own": own},
            )
            ids = [int(row[0]) for row in rows]
            killed = 0
            for connection_id in ids:
                try:
                    await connection.execute(text(f"KILL CONNECTION {connection_id}"))
                    killed += 1
                except Exception:  # it went away by itself meanwhile
                    pass
        self.log.note("db_connection_drop", f"killed {killed} database connections")
        return killed


def summary(faults: Sequence[Fault]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for fault in faults:
        counts[fault.kind] = counts.get(fault.kind, 0) + 1
    return counts
