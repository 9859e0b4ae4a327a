"""The transactional outbox: events are rows first, messages second.

A unit of work writes each event it emits as an `outbox_row` in its own transaction, so a
STATUS_CHANGE exists exactly when the status change committed. `OutboxRelay` publishes committed
rows right after the commit and, on a timer, whatever a crash or an SNS error left unpublished.
A row keeps the trace context it was written in, and its publish continues that trace, however
late the sweep gets to it.
"""

from __future__ import annotations

import asyncio
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
        reads: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._sessions = session_factory
        self._reads = reads or session_factory
        self._marks = PublishedMarks(session_factory)
        self._publisher = publisher
        self._grace = grace

    async def publish(self, committed: Iterable[tuple[OutboxEvent, Event]]) -> int:
        """Publish rows just committed, from memory; a failure is left for `sweep()`.

        The rows and events are the ones the transaction wrote, so nothing is read back; the
        published mark joins the process's next batched UPDATE (`PublishedMarks`).
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
        if published:
            await self._marks.mark(published)
        if failed:
            async with self._sessions() as session:
                for row_id, error in failed.items():
                    await session.execute(
                        update(OutboxEvent)
                        .where(OutboxEvent.id == row_id)
                        .values(last_error=error, publish_attempts=OutboxEvent.publish_attempts + 1)
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
        async with self._reads() as session:
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


class PublishedMarks:
    """Marks rows published, many handlers' rows in one UPDATE: a group commit.

    Each caller waits until its rows are marked, as before, but while one UPDATE is in flight
    the rows published meanwhile gather for the next, so under load a transaction marks many
    hand-offs, and alone a caller waits no longer than for its own. (`make bench`: the mark
    was a transaction of its own per hand-off, two statements of the 23 per transition.)
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._waiting: list[tuple[list[int], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def mark(self, row_ids: list[int]) -> None:
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((row_ids, done))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())
        await asyncio.shield(done)

    async def _write(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                ids = [row_id for row_ids, _ in batch for row_id in row_ids]
                try:
                    async with self._sessions() as session:
                        await session.execute(
                            update(OutboxEvent)
                            .where(OutboxEvent.id.in_(ids), OutboxEvent.published_at.is_(None))
                            .values(
                                published_at=utcnow_naive(),
                                publish_attempts=OutboxEvent.publish_attempts + 1,
                            )
                        )
                        await session.commit()
                except Exception as exc:  # each caller learns, as when it wrote its own
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                    continue
                except asyncio.CancelledError:  # the process is stopping: so are the callers
                    for _, done in batch + self._waiting:
                        done.cancel()
                    self._waiting = []
                    raise
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
        finally:
            self._writer = None


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
