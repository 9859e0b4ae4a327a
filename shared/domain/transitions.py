"""The campaign state machine as data: one table of transitions, and the snapshot it reads.

Choosing a move from a snapshot is moves.py; applying it, in one transaction with its
STATUS_CHANGE, is the service layer's (service_layer/transitions.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
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

    PREREQUISITES = "prerequisites"  # a service set a sub-status; see moves.after_step()
    SCHEDULE = "schedule"  # next_send_datetime arrived; only the scheduler fires it
    APPROVE = "approve"  # an operator approved the email
    REJECT = "reject"  # an operator rejected the email
    SEND_NOW = "send_now"  # an operator started a dormant campaign's cycle early
    SEND_STARTED = "send_started"  # the sender recorded the cycle's send and its recipients


class TransitionRefused(Refused):
    """An explicit transition was asked for a campaign that is not in a state that allows it."""


def waiting(*columns: str) -> dict[str, Any]:
    """These steps set to WAITING_FOR_DATA: the next services' work, on entering a status."""
    return {column: SubStatus.WAITING_FOR_DATA for column in columns}


_FRESH_CYCLE = {
    **{column: SubStatus.DORMANT for column in SUB_STATUS_COLUMNS},
    **waiting(*DATA_STEPS),
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

    @classmethod
    def of(cls, record: Any) -> Snapshot:
        """From anything that has the campaign's columns as attributes (a row, a record)."""
        return cls(
            status=record.campaign_status,
            cycle=record.cycle,
            next_send_datetime=record.next_send_datetime,
            cadence_days=record.cadence_days,
            requires_approval=record.requires_approval,
            error_reason=record.error_reason,
            error_from_status=record.error_from_status,
            steps={column: getattr(record, column) for column in SUB_STATUS_COLUMNS},
        )

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
        enter=waiting("home_report_analysis_status"),
    ),
    Transition(
        S.WAITING_FOR_HOME_ANALYSIS,
        S.READY_TO_CREATE_EMAIL,
        requires=("home_report_analysis_status",),
        enter=waiting("email_status"),
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
        enter=waiting("send_status"),
    ),
    Transition(
        S.WAITING_FOR_MANUAL_APPROVAL,
        S.READY_TO_SEND_EMAIL,
        Trigger.APPROVE,
        enter=waiting("send_status"),
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


def transitions_from(status: CampaignStatus, trigger: Trigger) -> list[Transition]:
    return [t for t in TRANSITIONS if t.source is status and t.trigger is trigger]
