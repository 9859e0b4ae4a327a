"""What every pipeline service does with its own sub-status: check it is due, then finish it.

A service owns one sub-status column per step. It works only when the event is for the
campaign's current cycle and its step is WAITING_FOR_DATA; it finishes by setting the step READY
(or ERROR with a reason) together with the step's data, then calls `advance()`, all in the
unit of work that also records the event as processed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, update

from shared.db.models import Campaign
from shared.db.uow import UnitOfWork
from shared.events import StatusChange
from shared.statuses import SubStatus
from shared.transitions import SUB_STATUS_COLUMNS, advance


async def pending_campaign(uow: UnitOfWork, event: StatusChange, step: str) -> Campaign | None:
    """The campaign if `step` still has work to do for the event's cycle, else None (stale)."""
    _check(step)
    campaign = await uow.session.get(Campaign, event.campaign_id, populate_existing=True)
    if campaign is None or campaign.cycle != event.cycle:
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
    error: str | None = None,
) -> bool:
    """Set `step` READY with `data` (or ERROR with `error`), advance the campaign, and commit.

    Returns False, committing only the processed-event marker, when the step was no longer
    waiting: a redelivery after success, or an event from an older cycle.
    """
    _check(step)
    values: dict[str, Any] = {step: SubStatus.ERROR if error else SubStatus.READY, **(data or {})}
    if error:
        values["error_reason"] = func.coalesce(Campaign.error_reason, f"{step}: {error}"[:2000])
    result = await uow.session.execute(
        update(Campaign)
        .where(
            Campaign.id == event.campaign_id,
            Campaign.cycle == event.cycle,
            getattr(Campaign, step) == SubStatus.WAITING_FOR_DATA,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    changed = result.rowcount == 1  # type: ignore[attr-defined]
    if changed:
        await advance(uow.session, event.campaign_id)
    await uow.commit()
    return bool(changed)


def _check(step: str) -> None:
    if step not in SUB_STATUS_COLUMNS:
        raise ValueError(f"{step!r} is not a sub-status column")
