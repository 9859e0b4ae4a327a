"""The unit of work: one database transaction, with the outbox and idempotency built in.

Leaving the block without `commit()` rolls back. `commit()` records the consumed event as
processed in the same transaction as the handler's effect (so a redelivery finds it done), then
commits, then hands the transaction's outbox rows to the relay for immediate publishing.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self
from uuid import UUID

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.adapters import outbox
from shared.adapters.db.models import ProcessedEvent
from shared.consumer.outcomes import AlreadyProcessed
from shared.domain.clock import utcnow_naive


class UnitOfWork:
    session: AsyncSession

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        relay: outbox.OutboxRelay | None = None,
        *,
        consumer: str | None = None,
        event_id: UUID | None = None,
    ) -> None:
        self._sessions = sessions
        self._relay = relay
        self._consumer = consumer
        self._event_id = event_id
        self._published: list[str] = []

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self._committed = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed, and unlike rollback() it leaves loaded
        # objects readable after the block, which handlers that read, then work, rely on.
        await self.session.close()

    async def commit(self) -> None:
        consumer, event_id = self._consumer, self._event_id
        if consumer and event_id and not await record_processed(self.session, consumer, event_id):
            await self.session.rollback()
            raise AlreadyProcessed(f"{self._consumer} already handled event {self._event_id}")
        pending = outbox.take_pending(self.session)
        await self.session.commit()
        self._committed = True
        if self._relay is not None and pending:
            await self._relay.publish(pending)
        self._published.extend(row.event_id for row, _event in pending)

    async def already_processed(self) -> bool:
        """A cheap look before doing the work; `commit()` is what actually guarantees once."""
        if self._consumer is None or self._event_id is None:
            return False
        return await is_processed(self._sessions, self._consumer, self._event_id)

    @property
    def published(self) -> list[str]:
        """Outbox event ids this unit of work committed (published now or by a later sweep)."""
        return list(self._published)


async def record_processed(session: AsyncSession, consumer: str, event_id: UUID) -> bool:
    """Insert the processed-event marker; False if it was already there.

    INSERT IGNORE rather than catching IntegrityError: a failed flush would poison the session,
    and on MySQL the statement waits for a racing transaction's marker and then reports 0 rows.
    """
    statement = (
        insert(ProcessedEvent)
        .values(consumer=consumer, event_id=str(event_id), processed_at=utcnow_naive())
        .prefix_with("IGNORE", dialect="mysql")
        .prefix_with("OR IGNORE", dialect="sqlite")
    )
    result = await session.execute(statement)
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def is_processed(
    sessions: async_sessionmaker[AsyncSession], consumer: str, event_id: UUID
) -> bool:
    async with sessions() as session:
        query = select(ProcessedEvent.event_id).where(
            ProcessedEvent.consumer == consumer, ProcessedEvent.event_id == str(event_id)
        )
        return (await session.scalar(query)) is not None
