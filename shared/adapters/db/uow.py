"""The SQL unit of work: one database transaction, with the outbox and idempotency built in.

Leaving the block without `commit()` rolls back. `commit()` records the consumed event as
processed in the same transaction as the handler's effect (so a redelivery finds it done),
flushes the outbox rows of the events emitted, commits, then hands those rows to the relay for
immediate publishing (a failure there is left to the relay's sweep).

The processed marker keeps the handler's trace context; when this commit is the fan-in (the last
of several steps on one event moves the campaign), the handler's span links the other branches.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Self
from uuid import UUID

from opentelemetry import trace
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.adapters.db.campaigns import SqlCampaigns, SqlPipeline
from shared.adapters.db.models import Base, OutboxEvent, ProcessedEvent
from shared.adapters.db.rows import affected
from shared.adapters.outbox import OutboxRelay, outbox_row
from shared.adapters.topology import TOPOLOGY
from shared.domain.clock import utcnow_naive
from shared.domain.events import Event, StatusChange
from shared.observability import propagation
from shared.service_layer.unit_of_work import AlreadyProcessed, NewEvent


class SqlUnitOfWork:
    session: AsyncSession
    campaigns: SqlCampaigns
    pipeline: SqlPipeline

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        relay: OutboxRelay | None = None,
        *,
        consumer: str | None = None,
        event_id: UUID | None = None,
        reads: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._sessions = sessions
        self._reads = reads or sessions
        self._relay = relay
        self._consumer = consumer
        self._event_id = event_id
        self._new: list[tuple[NewEvent, OutboxEvent]] = []

    async def __aenter__(self) -> Self:
        self._open(self._sessions())
        return self

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Self]:
        """The repositories for reads only, each its own transaction (no ROLLBACK to end
        them): for what a handler looks at before its work."""
        self._open(self._reads())
        try:
            yield self
        finally:
            await self.session.close()

    def _open(self, session: AsyncSession) -> None:
        self.session = session
        self.campaigns = SqlCampaigns(session)
        self.pipeline = SqlPipeline(session)
        self._new = []

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed, and unlike rollback() it leaves loaded
        # objects readable after the block, which handlers that read, then work, rely on.
        await self.session.close()

    def add(self, *rows: Base) -> None:
        self.session.add_all(rows)

    def emit(self, event: Event, *, queue: str | None = None, delay_seconds: int = 0) -> None:
        row = outbox_row(event, queue=queue, delay_seconds=delay_seconds)
        self.session.add(row)
        self._new.append((NewEvent(event, queue, delay_seconds), row))

    def collect_new_events(self) -> list[NewEvent]:
        new, self._new = self._new, []
        return [event for event, _row in new]

    async def commit(self) -> None:
        consumer, event_id = self._consumer, self._event_id
        if consumer and event_id and not await record_processed(self.session, consumer, event_id):
            await self.session.rollback()
            self._new = []
            raise AlreadyProcessed(f"{consumer} already handled event {event_id}")
        rows = [row for _event, row in self._new]
        events = self.collect_new_events()
        if consumer and event_id and trace.get_current_span().is_recording():
            await _link_fan_in(self.session, consumer, event_id, [new.event for new in events])
        await self.session.commit()
        if self._relay is not None and events:
            await self._relay.publish(zip(rows, (new.event for new in events), strict=True))


async def record_processed(session: AsyncSession, consumer: str, event_id: UUID) -> bool:
    """Insert the processed-event marker; False if it was already there.

    INSERT IGNORE rather than catching IntegrityError: a failed flush would poison the session,
    and on MySQL the statement waits for a racing transaction's marker and then reports 0 rows.
    """
    statement = (
        insert(ProcessedEvent)
        .values(
            consumer=consumer,
            event_id=str(event_id),
            processed_at=utcnow_naive(),
            trace_parent=propagation.current_traceparent(),
        )
        .prefix_with("IGNORE", dialect="mysql")
        .prefix_with("OR IGNORE", dialect="sqlite")
    )
    return affected(await session.execute(statement)) == 1


async def _link_fan_in(
    session: AsyncSession, consumer: str, event_id: UUID, emitted: list[Event]
) -> None:
    """Link the current span to the other branches' handlers if this move is a fan-in."""
    moves = [e for e in emitted if isinstance(e, StatusChange)]
    branches = set().union(*(TOPOLOGY.receivers_of(e.from_status) for e in moves)) - {consumer}
    if not branches:
        return
    query = select(ProcessedEvent.trace_parent).where(
        ProcessedEvent.consumer.in_(sorted(branches)),
        ProcessedEvent.event_id == str(event_id),
    )
    current = trace.get_current_span()
    for traceparent in (await session.scalars(query)).all():
        link = propagation.link_to(traceparent)
        if link is not None:
            current.add_link(link.context, {"dripr.link": "fan-in branch"})
