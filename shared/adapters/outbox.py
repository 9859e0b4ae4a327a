"""The transactional outbox: events are rows first, messages second.

A unit of work writes each event it emits as an `outbox_row` in its own transaction, so a
STATUS_CHANGE exists exactly when the status change committed. `OutboxRelay` publishes committed
rows right after the commit and, on a timer, whatever a crash or an SNS error left unpublished.
A row keeps the trace context it was written in, and its publish continues that trace, however
late the sweep gets to it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import timedelta

import structlog
from opentelemetry import context
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.adapters.db.models import OutboxEvent
from shared.adapters.publisher import Publisher
from shared.domain.clock import utcnow_naive
from shared.domain.events import Event, StatusChange, parse_event
from shared.observability import metrics, propagation

log = structlog.get_logger(__name__)


def outbox_row(event: Event, *, queue: str | None = None, delay_seconds: int = 0) -> OutboxEvent:
    """The row that records `event` for the topic, or for one queue if given."""
    row = OutboxEvent(
        event_id=str(event.event_id),
        event_type=event.event_type_name(),
        payload=event.model_dump_json(),
        queue=queue,
        delay_seconds=delay_seconds,
        created_at=event.occurred_at.replace(tzinfo=None),
        trace_parent=propagation.current_traceparent(),
    )
    if hasattr(event, "campaign_id"):
        row.campaign_id = event.campaign_id
    if isinstance(event, StatusChange):
        row.cycle = event.cycle
        row.from_status = event.from_status.value
        row.to_status = event.to_status.value
    return row


class OutboxRelay:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        publisher: Publisher,
        *,
        grace: timedelta = timedelta(seconds=10),
    ) -> None:
        self._sessions = session_factory
        self._publisher = publisher
        self._grace = grace

    async def publish(self, committed: Iterable[tuple[OutboxEvent, Event]]) -> int:
        """Publish rows just committed, from memory; a failure is left for `sweep()`.

        The rows and events are the ones the transaction wrote, so nothing is read back: one
        UPDATE marks what was published (the hot path of every hand-off).
        """
        published: list[int] = []
        failed: dict[int, str] = {}
        for row, event in committed:
            try:
                await _publish(self._publisher, row, event)
            except Exception as exc:  # the sweep retries it after the grace period
                failed[row.id] = f"{type(exc).__name__}: {exc}"[:2000]
                log.warning("outbox.publish_failed", event_id=row.event_id, error=failed[row.id])
                continue
            published.append(row.id)
        async with self._sessions() as session:
            attempted = OutboxEvent.publish_attempts + 1
            if published:
                await session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.id.in_(published), OutboxEvent.published_at.is_(None))
                    .values(published_at=utcnow_naive(), publish_attempts=attempted)
                )
            for row_id, error in failed.items():
                await session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.id == row_id)
                    .values(last_error=error, publish_attempts=attempted)
                )
            await session.commit()
        return len(published)

    async def sweep(self, limit: int = 100) -> int:
        """Publish rows left unpublished for longer than the grace period.

        Several relays may sweep at once: MySQL's SKIP LOCKED keeps them on different rows, and
        a row published twice is harmless because consumers deduplicate by event_id.
        """
        cutoff = utcnow_naive() - self._grace
        async with self._sessions() as session:
            query = (
                select(OutboxEvent)
                .where(OutboxEvent.published_at.is_(None), OutboxEvent.created_at <= cutoff)
                .order_by(OutboxEvent.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            rows = (await session.scalars(query)).all()
            published = 0
            for row in rows:
                published += await self._publish_row(row)
            await session.commit()
        if rows:
            log.info("outbox.swept", published=published, attempted=len(rows))
        return published

    async def measure_backlog(self) -> tuple[int, float]:
        """Count the unpublished rows and the oldest one's age, into the outbox gauges."""
        async with self._sessions() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(OutboxEvent.created_at)).where(
                        OutboxEvent.published_at.is_(None)
                    )
                )
            ).one()
        age = max(0.0, (utcnow_naive() - oldest).total_seconds()) if oldest else 0.0
        metrics.outbox_waiting.set(int(count))
        metrics.outbox_oldest_age.set(age)
        return int(count), age

    async def _publish_row(self, row: OutboxEvent) -> int:
        row.publish_attempts += 1
        try:
            await _publish(self._publisher, row, parse_event(json.loads(row.payload)))
        except Exception as exc:
            row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            log.warning("outbox.publish_failed", event_id=row.event_id, error=row.last_error)
            return 0
        row.published_at = utcnow_naive()
        row.last_error = None
        return 1


async def _publish(publisher: Publisher, row: OutboxEvent, event: Event) -> None:
    """Publish in the trace of the transaction that wrote the row."""
    written_in = propagation.context_of(row.trace_parent)
    token = context.attach(written_in) if written_in is not None else None
    try:
        await publisher.publish(event, queue=row.queue, delay_seconds=row.delay_seconds)
    finally:
        if token is not None:
            context.detach(token)


async def unpublished_count(session: AsyncSession) -> int:
    query = select(func.count()).select_from(OutboxEvent).where(OutboxEvent.published_at.is_(None))
    return int(await session.scalar(query) or 0)
