"""Choosing a move: pure functions from a campaign's snapshot to the `Move` the table allows.

A move is the target status, the columns it sets, and the conditions the compare-and-set must
still find true. These functions read nothing and write nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.domain.statuses import CampaignStatus, SubStatus
from shared.domain.transitions import (
    RETRY_INTO,
    STEPS_OF,
    SUB_STATUS_COLUMNS,
    Snapshot,
    Transition,
    TransitionRefused,
    Trigger,
    transitions_from,
    waiting,
)

S = CampaignStatus


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
    again = waiting(
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
