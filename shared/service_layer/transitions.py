"""The campaign state machine: one table of transitions and the one function that applies them.

There is no poller. A service calls `advance()` in the same transaction that sets its sub-status;
when every prerequisite of the next status is READY the campaign moves with a compare-and-set
UPDATE (`WHERE campaign_status = <current> AND cycle = <cycle> AND <prerequisites>`), and the
STATUS_CHANGE is written to the outbox in that same transaction. Two workers that set the last
two sub-statuses at the same moment serialise on the campaign row, so exactly one of them moves it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.adapters import outbox
from shared.adapters.db.models import Campaign
from shared.domain.clock import utcnow_naive
from shared.domain.events import StatusChange
from shared.domain.statuses import CampaignStatus, SubStatus

S = CampaignStatus

DATA_STEPS = (
    "property_status",
    "active_listing_status",
    "recent_sale_status",
    "local_market_data_status",
    "intro_status",
)
SUB_STATUS_COLUMNS = (*DATA_STEPS, "home_report_analysis_status", "email_status", "send_status")


class Trigger(StrEnum):
    """What may fire a transition."""

    PREREQUISITES = "prerequisites"  # a service set a sub-status; see advance()
    SCHEDULE = "schedule"  # next_send_datetime arrived; only the scheduler fires it
    APPROVE = "approve"  # an operator approved the email
    REJECT = "reject"  # an operator rejected the email
    SEND_NOW = "send_now"  # an operator started a dormant campaign's cycle early
    SEND_STARTED = "send_started"  # the sender recorded the cycle's send and its recipients


def _waiting(*columns: str) -> dict[str, Any]:
    return {column: SubStatus.WAITING_FOR_DATA for column in columns}


_FRESH_CYCLE = {
    **{column: SubStatus.DORMANT for column in SUB_STATUS_COLUMNS},
    **_waiting(*DATA_STEPS),
    "error_reason": None,
    "error_from_status": None,
}


@dataclass(frozen=True)
class Transition:
    source: CampaignStatus
    target: CampaignStatus
    trigger: Trigger = Trigger.PREREQUISITES
    requires: tuple[str, ...] = ()
    """Sub-status columns that must all be READY."""
    when: Mapping[str, Any] = field(default_factory=dict)
    """Further column = value conditions, e.g. whether the campaign needs approval."""
    enter: Mapping[str, Any] = field(default_factory=dict)
    """Columns set by the move itself, e.g. the next step's sub-status to WAITING_FOR_DATA."""
    starts_cycle: bool = False
    ends_cycle: bool = False

    def holds_for(self, row: Row[Any]) -> bool:
        mapping = row._mapping
        ready = all(mapping[column] == SubStatus.READY for column in self.requires)
        return ready and all(mapping[column] == value for column, value in self.when.items())


TRANSITIONS: tuple[Transition, ...] = (
    Transition(
        S.DORMANT, S.WAITING_FOR_DATA, Trigger.SCHEDULE, enter=_FRESH_CYCLE, starts_cycle=True
    ),
    Transition(
        S.DORMANT, S.WAITING_FOR_DATA, Trigger.SEND_NOW, enter=_FRESH_CYCLE, starts_cycle=True
    ),
    Transition(
        S.WAITING_FOR_DATA,
        S.WAITING_FOR_HOME_ANALYSIS,
        requires=DATA_STEPS,
        enter=_waiting("home_report_analysis_status"),
    ),
    Transition(
        S.WAITING_FOR_HOME_ANALYSIS,
        S.READY_TO_CREATE_EMAIL,
        requires=("home_report_analysis_status",),
        enter=_waiting("email_status"),
    ),
    Transition(
        S.READY_TO_CREATE_EMAIL,
        S.WAITING_FOR_MANUAL_APPROVAL,
        requires=("email_status",),
        when={"requires_approval": True},
    ),
    Transition(
        S.READY_TO_CREATE_EMAIL,
        S.READY_TO_SEND_EMAIL,
        requires=("email_status",),
        when={"requires_approval": False},
        enter=_waiting("send_status"),
    ),
    Transition(
        S.WAITING_FOR_MANUAL_APPROVAL,
        S.READY_TO_SEND_EMAIL,
        Trigger.APPROVE,
        enter=_waiting("send_status"),
    ),
    Transition(S.WAITING_FOR_MANUAL_APPROVAL, S.DORMANT, Trigger.REJECT, ends_cycle=True),
    Transition(S.READY_TO_SEND_EMAIL, S.SENDING, Trigger.SEND_STARTED),
    Transition(S.SENDING, S.DORMANT, requires=("send_status",), ends_cycle=True),
)

STEPS_OF: dict[CampaignStatus, tuple[str, ...]] = {
    S.WAITING_FOR_DATA: DATA_STEPS,
    S.WAITING_FOR_HOME_ANALYSIS: ("home_report_analysis_status",),
    S.READY_TO_CREATE_EMAIL: ("email_status",),
    S.READY_TO_SEND_EMAIL: ("send_status",),
    S.SENDING: ("send_status",),
}
"""The sub-statuses worked on while the campaign is in each status; an ERROR in one fails it."""


RETRY_INTO: dict[CampaignStatus, CampaignStatus] = {S.SENDING: S.READY_TO_SEND_EMAIL}
"""Where a retry goes when the failed stage is not the one whose event restarts its step."""


class TransitionRefused(Exception):
    """An explicit transition was asked for a campaign that is not in a state that allows it."""


_SNAPSHOT = (
    Campaign.campaign_status,
    Campaign.cycle,
    Campaign.next_send_datetime,
    Campaign.cadence_days,
    Campaign.requires_approval,
    Campaign.error_reason,
    Campaign.error_from_status,
    *(getattr(Campaign, column) for column in SUB_STATUS_COLUMNS),
)


async def _lock(session: AsyncSession, campaign_id: int) -> Row[Any] | None:
    query = select(*_SNAPSHOT).where(Campaign.id == campaign_id).with_for_update()
    return (await session.execute(query)).one_or_none()


async def advance(session: AsyncSession, campaign_id: int) -> StatusChange | None:
    """Move the campaign on if its sub-statuses now allow it; call after setting one."""
    row = await _lock(session, campaign_id)
    if row is None:
        return None
    status = row.campaign_status
    failed = [
        column for column in STEPS_OF.get(status, ()) if row._mapping[column] is SubStatus.ERROR
    ]
    if failed:
        return await _move(
            session,
            campaign_id,
            row,
            S.ERROR,
            values={"error_from_status": status},
            conditions=[getattr(Campaign, failed[0]) == SubStatus.ERROR],
            reason=row.error_reason or f"{failed[0]} is ERROR",
        )
    for transition in transitions_from(status, Trigger.PREREQUISITES):
        if transition.holds_for(row):
            return await _apply(session, campaign_id, row, transition)
    return None


async def fire(
    session: AsyncSession,
    campaign_id: int,
    trigger: Trigger,
    *,
    now: datetime | None = None,
) -> StatusChange:
    """Fire a transition that is not driven by sub-statuses (schedule, operator actions).

    Raises `TransitionRefused` when the campaign's current status has no such transition.
    """
    row = await _lock(session, campaign_id)
    if row is None:
        raise TransitionRefused(f"campaign {campaign_id} does not exist")
    for transition in transitions_from(row.campaign_status, trigger):
        if transition.holds_for(row):
            if trigger is Trigger.SCHEDULE and row.next_send_datetime > (now or utcnow_naive()):
                break
            event = await _apply(session, campaign_id, row, transition, now=now)
            if event is not None:
                return event
    raise TransitionRefused(
        f"campaign {campaign_id} is {row.campaign_status.value}: "
        f"cannot {trigger.value.replace('_', ' ')}"
    )


async def retry(session: AsyncSession, campaign_id: int) -> StatusChange:
    """Send a campaign in ERROR back to the step that failed; only the failed steps run again."""
    row = await _lock(session, campaign_id)
    if row is None:
        raise TransitionRefused(f"campaign {campaign_id} does not exist")
    if row.campaign_status is not S.ERROR or row.error_from_status is None:
        raise TransitionRefused(f"campaign {campaign_id} is {row.campaign_status.value}, not ERROR")
    failed: CampaignStatus = row.error_from_status
    target = RETRY_INTO.get(failed, failed)
    again = _waiting(
        *(c for c in STEPS_OF.get(failed, ()) if row._mapping[c] is not SubStatus.READY)
    )
    event = await _move(
        session,
        campaign_id,
        row,
        target,
        values={**again, "error_reason": None, "error_from_status": None},
        reason="operator retry",
    )
    assert event is not None, "the row is locked, so the compare-and-set cannot lose"
    return event


def transitions_from(status: CampaignStatus, trigger: Trigger) -> list[Transition]:
    return [t for t in TRANSITIONS if t.source is status and t.trigger is trigger]


async def _apply(
    session: AsyncSession,
    campaign_id: int,
    row: Row[Any],
    transition: Transition,
    *,
    now: datetime | None = None,
) -> StatusChange | None:
    values = dict(transition.enter)
    if transition.starts_cycle:
        values["cycle"] = row.cycle + 1
    if transition.ends_cycle:
        values.update(_end_of_cycle(row, now or utcnow_naive()))
    conditions = [getattr(Campaign, column) == SubStatus.READY for column in transition.requires]
    conditions += [getattr(Campaign, column) == value for column, value in transition.when.items()]
    return await _move(
        session, campaign_id, row, transition.target, values=values, conditions=conditions
    )


def _end_of_cycle(row: Row[Any], now: datetime) -> dict[str, Any]:
    """Reset the steps and schedule the next cycle by the cadence.

    A send that ran early ("send now") leaves a future next_send_datetime where it was.
    """
    cadence = timedelta(days=max(row.cadence_days, 1))
    next_send: datetime = row.next_send_datetime
    while next_send <= now:
        next_send += cadence
    return {
        **{column: SubStatus.DORMANT for column in SUB_STATUS_COLUMNS},
        "next_send_datetime": next_send,
    }


async def _move(
    session: AsyncSession,
    campaign_id: int,
    row: Row[Any],
    target: CampaignStatus,
    *,
    values: Mapping[str, Any],
    conditions: list[Any] | None = None,
    reason: str | None = None,
) -> StatusChange | None:
    """Compare-and-set the campaign from the status and cycle we read to `target`."""
    statement = (
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.campaign_status == row.campaign_status,
            Campaign.cycle == row.cycle,
            *(conditions or ()),
        )
        .values(campaign_status=target, **values)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(statement)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    event = StatusChange(
        campaign_id=campaign_id,
        cycle=values.get("cycle", row.cycle),
        from_status=row.campaign_status,
        to_status=target,
        reason=reason,
    )
    outbox.add(session, event)
    return event
