"""What every pipeline service does with its own sub-status: check it is due, then finish it.

A service owns one sub-status column per step. It works only when the event is for the
campaign's current cycle and its step is WAITING_FOR_DATA; it finishes by setting the step READY
(or ERROR with a reason) together with the step's data, then calls `advance()`, all in the
unit of work that also records the event as processed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from shared.consumer.outcomes import Reject
from shared.domain.errors import PermanentError
from shared.domain.events import StatusChange
from shared.domain.statuses import SubStatus
from shared.domain.transitions import SUB_STATUS_COLUMNS
from shared.service_layer.transitions import advance
from shared.service_layer.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from shared.adapters.db.models import Base, Campaign

log = structlog.get_logger(__name__)

ERROR_REASON_LIMIT = 2000


@dataclass
class Outcome:
    """What a step produced: campaign columns to set, and rows to add, with its READY."""

    values: dict[str, Any] = field(default_factory=dict)
    rows: list[Base] = field(default_factory=list)


Work = Callable[["Campaign"], Awaitable[Outcome]]
GiveUp = Callable[[StatusChange, UnitOfWork, str], Awaitable[None]]


@dataclass(frozen=True)
class Step:
    """One service's sub-status column and the work that completes it.

    `handle` is the consumer handler; `give_up` is what the runtime calls when it dead-letters
    the event after the last retry, so the campaign shows ERROR instead of waiting forever.
    """

    column: str
    work: Work

    async def handle(self, event: StatusChange, uow: UnitOfWork) -> None:
        async with uow.reading():
            campaign = await pending_campaign(uow, event, self.column)
        if campaign is None:
            log.info("step.not_pending", step=self.column)
            return
        try:
            outcome = await self.work(campaign)
        except PermanentError as exc:
            log.warning("step.failed", step=self.column, error=str(exc))
            async with uow:
                await finish_step(uow, event, self.column, error=str(exc))
            return
        async with uow:
            await finish_step(uow, event, self.column, data=outcome.values, rows=outcome.rows)

    async def give_up(self, event: StatusChange, uow: UnitOfWork, reason: str) -> None:
        await mark_failed(self.column)(event, uow, reason)


def mark_failed(step: str) -> GiveUp:
    """The give-up hook for a step: record it as ERROR with the reason the runtime gives."""

    async def give_up(event: StatusChange, uow: UnitOfWork, reason: str) -> None:
        async with uow:
            await finish_step(uow, event, step, error=reason)

    return give_up


async def pending_campaign(uow: UnitOfWork, event: StatusChange, step: str) -> Campaign | None:
    """The campaign if `step` still has work to do for the event's cycle, else None (stale).

    An event for a campaign that does not exist (a typo in an event injected by hand) is not
    stale but wrong: it is rejected, so it lands in the DLQ with the reason, not in a log line.
    """
    _check(step)
    campaign = await uow.campaigns.get(event.campaign_id)
    if campaign is None:
        raise Reject(f"campaign {event.campaign_id} does not exist")
    if campaign.cycle != event.cycle:
        return None
    if getattr(campaign, step) is not SubStatus.WAITING_FOR_DATA:
        return None
    return campaign


async def finish_step(
    uow: UnitOfWork,
    event: StatusChange,
    step: str,
    *,
    data: Mapping[str, Any] | None = None,
    rows: Sequence[Base] = (),
    error: str | None = None,
) -> bool:
    """Set `step` READY with `data` and `rows` (or ERROR with `error`), advance, and commit.

    Returns False, committing only the processed-event marker, when the step was no longer
    waiting: a redelivery after success, a racing worker that finished first, or an event from
    an older cycle. The compare-and-set on the step column is what makes that safe.
    """
    changed = await record_step(
        uow, event.campaign_id, event.cycle, step, data=data, rows=rows, error=error
    )
    await uow.commit()
    return changed


async def record_step(
    uow: UnitOfWork,
    campaign_id: int,
    cycle: int,
    step: str,
    *,
    data: Mapping[str, Any] | None = None,
    rows: Sequence[Base] = (),
    error: str | None = None,
) -> bool:
    """`finish_step` inside a caller's unit of work: compare-and-set the step, then advance.

    A campaign's first error is its reason: a later step's error does not overwrite it.
    """
    _check(step)
    values: dict[str, Any] = {step: SubStatus.ERROR if error else SubStatus.READY, **(data or {})}
    if error:
        snapshot = await uow.campaigns.lock(campaign_id)
        if snapshot is not None and snapshot.error_reason is None:
            values["error_reason"] = f"{step}: {error}"[:ERROR_REASON_LIMIT]
    changed = await uow.campaigns.compare_and_set(
        campaign_id,
        status=None,
        cycle=cycle,
        expect={step: SubStatus.WAITING_FOR_DATA},
        values=values,
    )
    if changed:
        uow.add(*rows)
        await advance(uow, campaign_id)
    return changed


def _check(step: str) -> None:
    if step not in SUB_STATUS_COLUMNS:
        raise ValueError(f"{step!r} is not a sub-status column")
