"""What the pipeline has been doing, from the database: throughput per minute, the age of the
oldest event waiting for each queue's consumer, and one cycle's hand-offs stage by stage.

Every handled message leaves a processed marker with its time, every email a `sent_at`, every
transition an outbox row: so these need no metrics backend, and they agree across replicas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.adapters.db.models import Campaign, Delivery, OutboxEvent, ProcessedEvent
from shared.adapters.topology import TOPOLOGY
from shared.domain.events import STATUS_CHANGE
from shared.domain.statuses import CampaignStatus, DeliveryStatus


@dataclass(frozen=True)
class Minute:
    at: datetime
    messages: int
    emails: int


@dataclass(frozen=True)
class Handled:
    consumer: str
    handled_at: datetime
    seconds: float
    """From the event's outbox row being written to this consumer committing its work."""


@dataclass(frozen=True)
class Stage:
    to_status: str
    written_at: datetime
    published_at: datetime | None
    handled: list[Handled] = field(default_factory=list)
    receivers: list[str] = field(default_factory=list)
    """The consumers this status is sent to; none for an operator's or a send's status."""

    @property
    def slowest_seconds(self) -> float | None:
        return max((h.seconds for h in self.handled), default=None)


async def per_minute(session: AsyncSession, now: datetime, minutes: int) -> list[Minute]:
    """Messages handled and emails sent in each of the last `minutes` whole minutes."""
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=minutes - 1)
    messages = await _count_by_minute(session, ProcessedEvent.processed_at, start)
    emails = await _count_by_minute(
        session, Delivery.sent_at, start, Delivery.status == DeliveryStatus.SENT
    )
    slots = [start + timedelta(minutes=i) for i in range(minutes)]
    return [Minute(at, messages.get(at, 0), emails.get(at, 0)) for at in slots]


async def _count_by_minute(
    session: AsyncSession, column: object, start: datetime, *where: object
) -> dict[datetime, int]:
    dialect = session.get_bind().dialect.name
    bucket = (
        func.strftime("%Y-%m-%d %H:%M", column)
        if dialect == "sqlite"
        else func.date_format(column, "%Y-%m-%d %H:%i")
    )
    rows = await session.execute(
        select(bucket, func.count()).where(column >= start, *where).group_by(bucket)  # type: ignore[operator, arg-type]
    )
    return {datetime.strptime(minute, "%Y-%m-%d %H:%M"): count for minute, count in rows}


async def oldest_waiting(session: AsyncSession, now: datetime) -> dict[str, float]:
    """Queue → seconds the oldest STATUS_CHANGE it receives has waited for its consumer.

    Waiting: the campaign is still in that status and cycle, and the queue's consumer has not
    committed the event. 0 when nothing waits. SES's feedback queue is not judged here.
    """
    ages: dict[str, float] = {}
    for spec in TOPOLOGY.queues:
        if not spec.to_statuses:
            continue
        handled = exists().where(
            ProcessedEvent.consumer == spec.name, ProcessedEvent.event_id == OutboxEvent.event_id
        )
        oldest = await session.scalar(
            select(func.min(OutboxEvent.created_at))
            .join(
                Campaign,
                and_(
                    Campaign.id == OutboxEvent.campaign_id,
                    Campaign.cycle == OutboxEvent.cycle,
                    Campaign.campaign_status == OutboxEvent.to_status,
                ),
            )
            .where(
                OutboxEvent.event_type == STATUS_CHANGE,
                OutboxEvent.to_status.in_([s.value for s in spec.to_statuses]),
                ~handled,
            )
        )
        ages[spec.name] = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
    return ages


async def handoffs(session: AsyncSession, campaign_id: int, cycle: int) -> list[Stage]:
    """Each STATUS_CHANGE of the cycle and when each receiving consumer finished with it."""
    rows = (
        await session.scalars(
            select(OutboxEvent)
            .where(
                OutboxEvent.campaign_id == campaign_id,
                OutboxEvent.cycle == cycle,
                OutboxEvent.event_type == STATUS_CHANGE,
            )
            .order_by(OutboxEvent.id)
        )
    ).all()
    stages = []
    for row in rows:
        receivers = sorted(_receivers(row.to_status))
        markers = await session.execute(
            select(ProcessedEvent.consumer, ProcessedEvent.processed_at).where(
                ProcessedEvent.consumer.in_(receivers),
                ProcessedEvent.event_id == row.event_id,
            )
        )
        handled = [
            Handled(consumer, at, round((at - row.created_at).total_seconds(), 3))
            for consumer, at in markers
        ]
        stages.append(
            Stage(
                row.to_status or "",
                row.created_at,
                row.published_at,
                sorted(handled, key=lambda h: h.consumer),
                receivers,
            )
        )
    return stages


def _receivers(status: str | None) -> set[str]:
    try:
        return TOPOLOGY.receivers_of(CampaignStatus(status or ""))
    except ValueError:  # a status no longer in the rules: nobody receives it now
        return set()
