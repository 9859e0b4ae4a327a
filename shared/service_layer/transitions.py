"""The one transition function: apply a move chosen by the rules, and emit its STATUS_CHANGE.

There is no poller. A service calls `advance()` in the unit of work that sets its sub-status;
when every prerequisite of the next status is READY the campaign moves with a compare-and-set
(`WHERE campaign_status = <current> AND cycle = <cycle> AND <prerequisites>`), and the
STATUS_CHANGE is emitted into that same unit of work, which writes it to the outbox in the same
transaction. Two workers that set the last two sub-statuses at the same moment serialise on the
campaign row lock, so exactly one of them moves it. Each function returns the event it emitted.
"""

from __future__ import annotations

from datetime import datetime

from shared.domain import moves
from shared.domain.clock import utcnow_naive
from shared.domain.events import StatusChange
from shared.domain.moves import Move
from shared.domain.transitions import Snapshot, TransitionRefused, Trigger
from shared.service_layer.unit_of_work import UnitOfWork


async def advance(
    uow: UnitOfWork, campaign_id: int, *, now: datetime | None = None
) -> StatusChange | None:
    """Move the campaign on if its sub-statuses now allow it; call after setting one."""
    snapshot = await uow.campaigns.lock(campaign_id)
    if snapshot is None:
        return None
    move = moves.after_step(snapshot, now or utcnow_naive())
    return await apply(uow, campaign_id, snapshot, move) if move else None


async def fire(
    uow: UnitOfWork, campaign_id: int, trigger: Trigger, *, now: datetime | None = None
) -> StatusChange:
    """Fire a transition that is not driven by sub-statuses (schedule, operator actions).

    Raises `TransitionRefused` when the campaign's current status has no such transition.
    """
    snapshot = await _locked(uow, campaign_id)
    move = moves.on_trigger(snapshot, trigger, now or utcnow_naive(), campaign_id=campaign_id)
    return await _applied(uow, campaign_id, snapshot, move)


async def retry(uow: UnitOfWork, campaign_id: int) -> StatusChange:
    """Send a campaign in ERROR back to the step that failed; only the failed steps run again."""
    snapshot = await _locked(uow, campaign_id)
    move = moves.on_retry(snapshot, campaign_id=campaign_id)
    return await _applied(uow, campaign_id, snapshot, move)


async def apply(
    uow: UnitOfWork, campaign_id: int, snapshot: Snapshot, move: Move
) -> StatusChange | None:
    """Compare-and-set the campaign from the snapshot's status and cycle to the move's target,
    and emit the STATUS_CHANGE; None (nothing emitted) if the row no longer matches."""
    moved = await uow.campaigns.compare_and_set(
        campaign_id,
        status=snapshot.status,
        cycle=snapshot.cycle,
        expect=move.expect,
        values={"campaign_status": move.target, **move.values},
    )
    if not moved:
        return None
    event = StatusChange(
        campaign_id=campaign_id,
        cycle=move.cycle,
        from_status=move.source,
        to_status=move.target,
        reason=move.reason,
    )
    uow.emit(event)
    return event


async def _locked(uow: UnitOfWork, campaign_id: int) -> Snapshot:
    snapshot = await uow.campaigns.lock(campaign_id)
    if snapshot is None:
        raise TransitionRefused(f"campaign {campaign_id} does not exist")
    return snapshot


async def _applied(
    uow: UnitOfWork, campaign_id: int, snapshot: Snapshot, move: Move
) -> StatusChange:
    event = await apply(uow, campaign_id, snapshot, move)
    if event is None:  # the row is locked, so only a concurrent change outside a lock can win
        raise TransitionRefused(f"campaign {campaign_id} changed meanwhile: try again")
    return event
