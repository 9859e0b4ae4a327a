"""The unit-of-work port: what the use cases need of storage, and nothing about how.

One transaction per `async with`; leaving it without `commit()` rolls back. Events are emitted
into the unit of work (`emit`), written with the state change they follow, and collected at
commit for publishing. `commit()` also records the consumed event as processed, so a redelivery
finds it done (and raises `AlreadyProcessed` if a racing delivery got there first).

`adapters/db/uow.py` is the SQL implementation; `tests/fakes.py` an in-memory one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self

from shared.domain.errors import DriprError
from shared.domain.events import Event
from shared.domain.statuses import CampaignStatus, PipelineState
from shared.domain.transitions import Snapshot

if TYPE_CHECKING:  # the records use cases read; the schema is the adapters'
    from shared.adapters.db.models import Base, Campaign


class AlreadyProcessed(DriprError):
    """Another delivery of the same event committed first; this one changed nothing."""


@dataclass(frozen=True)
class NewEvent:
    """An event emitted in a unit of work: for the topic, or straight to one queue."""

    event: Event
    queue: str | None = None
    delay_seconds: int = 0


class Campaigns(Protocol):
    """The campaign rows, read and changed only by compare-and-set."""

    async def get(self, campaign_id: int) -> Campaign | None:
        """The campaign as it is now (not as an earlier read in this unit of work saw it)."""

    async def lock(self, campaign_id: int) -> Snapshot | None:
        """The rules' snapshot, with the row locked until the transaction ends."""

    async def compare_and_set(
        self,
        campaign_id: int,
        *,
        status: CampaignStatus | None,
        cycle: int,
        expect: Mapping[str, Any],
        values: Mapping[str, Any],
    ) -> bool:
        """Set `values` if the row still has this cycle, this status (None: any) and the
        `expect`ed columns; False, changing nothing, otherwise."""

    async def existing(self, campaign_ids: Iterable[int]) -> set[int]:
        """Which of these ids are campaigns."""

    async def due(self, now: datetime, limit: int) -> list[int]:
        """Dormant campaigns whose next send has arrived, the longest-waiting first."""


class Pipeline(Protocol):
    """The one switch every consumer and the scheduler look at before taking new work."""

    async def state(self) -> PipelineState: ...


class UnitOfWork(Protocol):
    @property
    def campaigns(self) -> Campaigns: ...

    @property
    def pipeline(self) -> Pipeline: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def reading(self) -> AbstractAsyncContextManager[Self]:
        """The same repositories for reads only, outside any transaction: what a handler
        looks at before its work. Nothing written there is kept."""

    def add(self, *rows: Base) -> None:
        """New rows (an email, an audit entry) written with the rest of the transaction."""

    def emit(self, event: Event, *, queue: str | None = None, delay_seconds: int = 0) -> None:
        """Write the event to the outbox in this transaction; published after the commit."""

    def collect_new_events(self) -> list[NewEvent]:
        """The events emitted since the last call, in order."""

    async def commit(self) -> None: ...
