"""The campaign state machine as rules: one table of transitions and pure functions over it.

Given a snapshot of a campaign (its status, cycle and sub-statuses), the functions here choose
the `Move` to make: the target status, the columns the move sets, and the conditions the
compare-and-set must still find true. They read nothing and write nothing; applying a move, in
one transaction with its STATUS_CHANGE, is the service layer's (service_layer/transitions.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.domain.errors import Refused
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

    PREREQUISITES = "prerequisites"  # a service set a sub-status; see after_step()
    SCHEDULE = "schedule"  # next_send_datetime arrived; only the scheduler fires it
    APPROVE = "approve"  # an operator approved the email
    REJECT = "reject"  # an operator rejected the email
    SEND_NOW = "send_now"  # an operator started a dormant campaign's cycle early
    SEND_STARTED = "send_started"  # the sender recorded the cycle's send and its recipients


class TransitionRefused(Refused):
    """An explicit transition was asked for a campaign that is not in a state that allows it."""


def _waiting(*columns: str) -> dict[str, Any]:
    return {column: SubStatus.WAITING_FOR_DATA for column in columns}


_FRESH_CYCLE = {
    **{column: SubStatus.DORMANT for column in SUB_STATUS_COLUMNS},
    **_waiting(*DATA_STEPS),
    "error_reason": None,
    "error_from_status": None,
}


@dataclass(frozen=True)
class Snapshot:
    """What the rules read of a campaign, taken under its row lock."""

    status: CampaignStatus
    cycle: int
    next_send_datetime: datetime
    cadence_days: int
    requires_approval: bool
    error_reason: str | None
    error_from_status: CampaignStatus | None
    steps: Mapping[str, SubStatus]

    def value(self, column: str) -> Any:
        """A sub-status or one of the conditions a transition's `when` may name."""
        if column in self.steps:
            return self.steps[column]
        return getattr(self, column)


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

    def holds_for(self, snapshot: Snapshot) -> bool:
        ready = all(snapshot.value(column) == SubStatus.READY for column in self.requires)
        return ready and all(snapshot.value(c) == value for c, value in self.when.items())


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


@dataclass(frozen=True)
class Move:
    """A chosen transition: what to set, and what the compare-and-set must still find.

    The compare-and-set always also requires the status and cycle of the snapshot it was
    chosen from; `expect` adds the columns the transition depended on.
    """

    source: CampaignStatus
    target: CampaignStatus
    cycle: int
    """The cycle the move's STATUS_CHANGE belongs to (a new one when the move starts a cycle)."""
    values: Mapping[str, Any] = field(default_factory=dict)
    expect: Mapping[str, Any] = field(default_factory=dict)
    reason: str | None = None


def transitions_from(status: CampaignStatus, trigger: Trigger) -> list[Transition]:
    return [t for t in TRANSITIONS if t.source is status and t.trigger is trigger]


def after_step(snapshot: Snapshot, now: datetime) -> Move | None:
    """The move a sub-status change allows now: to ERROR if a step failed, else the next
    status once every prerequisite is READY; None while the campaign must wait."""
    status = snapshot.status
    failed = [c for c in STEPS_OF.get(status, ()) if snapshot.steps[c] is SubStatus.ERROR]
    if failed:
        return Move(
            status,
            S.ERROR,
            snapshot.cycle,
            values={"error_from_status": status},
            expect={failed[0]: SubStatus.ERROR},
            reason=snapshot.error_reason or f"{failed[0]} is ERROR",
        )
    for transition in transitions_from(status, Trigger.PREREQUISITES):
        if transition.holds_for(snapshot):
            return _move(snapshot, transition, now=now)
    return None


def on_trigger(snapshot: Snapshot, trigger: Trigger, now: datetime, *, campaign_id: int) -> Move:
    """The move an explicit trigger (schedule, an operator) asks for; refused if none applies.

    A SCHEDULE is refused while the campaign's next_send_datetime is still ahead of `now`.
    """
    for transition in transitions_from(snapshot.status, trigger):
        if transition.holds_for(snapshot):
            if trigger is Trigger.SCHEDULE and snapshot.next_send_datetime > now:
                break
            return _move(snapshot, transition, now=now)
    raise TransitionRefused(
        f"campaign {campaign_id} is {snapshot.status.value}: "
        f"cannot {trigger.value.replace('_', ' ')}"
    )


def on_retry(snapshot: Snapshot, *, campaign_id: int) -> Move:
    """Back to the stage that failed; only the steps that are not READY run again."""
    if snapshot.status is not S.ERROR or snapshot.error_from_status is None:
        raise TransitionRefused(f"campaign {campaign_id} is {snapshot.status.value}, not ERROR")
    failed = snapshot.error_from_status
    again = _waiting(
        *(c for c in STEPS_OF.get(failed, ()) if snapshot.steps[c] is not SubStatus.READY)
    )
    return Move(
        S.ERROR,
        RETRY_INTO.get(failed, failed),
        snapshot.cycle,
        values={**again, "error_reason": None, "error_from_status": None},
        reason="operator retry",
    )


def _move(snapshot: Snapshot, transition: Transition, *, now: datetime) -> Move:
    values = dict(transition.enter)
    cycle = snapshot.cycle
    if transition.starts_cycle:
        cycle = values["cycle"] = snapshot.cycle + 1
    if transition.ends_cycle:
        values.update(end_of_cycle(snapshot, now))
    expect: dict[str, Any] = {column: SubStatus.READY for column in transition.requires}
    expect.update(transition.when)
    return Move(snapshot.status, transition.target, cycle, values=values, expect=expect)


def end_of_cycle(snapshot: Snapshot, now: datetime) -> dict[str, Any]:
    """Reset the steps and schedule the next cycle by the cadence.

    A send that ran early ("send now") leaves a future next_send_datetime where it was.
    """
    cadence = timedelta(days=max(snapshot.cadence_days, 1))
    next_send = snapshot.next_send_datetime
    while next_send <= now:
        next_send += cadence
    return {
        **{column: SubStatus.DORMANT for column in SUB_STATUS_COLUMNS},
        "next_send_datetime": next_send,
    }
