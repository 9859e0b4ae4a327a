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
from shared.domain.clock import utcnow_naive
from shared.domain.statuses import CampaignStatus
from tests.chaos.environment import Ground
from tests.chaos.recovery import Window

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
        self.breakers_after: dict[str, list[str]] = {}
        """Fault → the breakers open shortly after it (an outage must open none)."""
        self.windows: list[Window] = []
        """Each SIGKILL and outage, for the recovery table (recovery.py)."""
        self._outage = asyncio.Lock()
        """Held while the database or the endpoint is away: no kill lands meanwhile (a process
        started during an outage cannot bootstrap, which is not what these faults test)."""

    # -- processes -------------------------------------------------------------------------
    async def kill_one(self) -> None:
        """SIGKILL a random service process; restart it after a moment, as an orchestrator would."""
        candidates = [p for p in self.processes if p.name != "control_api" and p.running]
        if not candidates:
            return
        victim = self.rng.choice(candidates)
        async with self._outage:
            self.down.add(victim.label)
            await asyncio.to_thread(victim.kill)
            killed = utcnow_naive()
            pause = round(self.rng.uniform(0.3, 2.0), 1)
            self.log.note("sigkill", f"{victim.label} killed; restarting in {pause}s")
            await asyncio.sleep(pause)
            await asyncio.to_thread(victim.start)
            self.windows.append(Window("sigkill", victim.name, killed, utcnow_naive()))
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

    async def endpoint_outage(self, seconds: float) -> None:
        """The AWS endpoint refuses every connection for a while: the proxy's process is gone."""
        async with self._outage:
            await asyncio.to_thread(self.ground.aws_proxy.stop)
            began = utcnow_naive()
            self.log.note("endpoint_outage", f"AWS refuses connections for {seconds:.0f}s")
            await asyncio.sleep(seconds)
            await asyncio.to_thread(self.ground.aws_proxy.start)
            await asyncio.to_thread(self.ground.set_faults, *sorted(self._aws_faults))
            self.windows.append(Window("endpoint_outage", None, began, utcnow_naive()))
            self.log.note("endpoint_outage", "over: the endpoint answers again")

    async def database_outage(self, seconds: float) -> None:
        """The database server goes away for a while (to the services): connections cut,
        new ones refused, then back."""
        proxy = self.ground.database_proxy
        if proxy is None:
            self.log.note("database_outage", "skipped: SQLite has no server to lose")
            return
        async with self._outage:
            await asyncio.to_thread(proxy.stop)
            began = utcnow_naive()
            self.log.note("database_outage", f"the database is unreachable for {seconds:.0f}s")
            await asyncio.sleep(seconds)
            await asyncio.to_thread(proxy.start)
            self.windows.append(Window("database_outage", None, began, utcnow_naive()))
            self.log.note("database_outage", "over: the database answers again")

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
