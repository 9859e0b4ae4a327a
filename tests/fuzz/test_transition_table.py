"""The transition table as data, over every row it could meet: no ambiguity, no dead end."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from shared.domain.statuses import CampaignStatus as S
from shared.domain.statuses import SubStatus
from shared.domain.transitions import (
    STEPS_OF,
    SUB_STATUS_COLUMNS,
    TRANSITIONS,
    Snapshot,
    Transition,
    Trigger,
    transitions_from,
)

rows = st.fixed_dictionaries(
    {
        **{column: st.sampled_from(SubStatus) for column in SUB_STATUS_COLUMNS},
        "requires_approval": st.booleans(),
    }
)


def as_row(values: dict[str, Any]) -> Snapshot:
    """What `Transition.holds_for` reads: a campaign's snapshot."""
    return Snapshot(
        status=S.DORMANT,
        cycle=1,
        next_send_datetime=datetime(2026, 1, 1),
        cadence_days=30,
        requires_approval=values["requires_approval"],
        error_reason=None,
        error_from_status=None,
        steps={column: values[column] for column in SUB_STATUS_COLUMNS},
    )


@given(status=st.sampled_from(S), trigger=st.sampled_from(Trigger), values=rows)
def test_at_most_one_transition_holds_for_any_row(
    status: S, trigger: Trigger, values: dict[str, Any]
) -> None:
    holding = [t for t in transitions_from(status, trigger) if t.holds_for(as_row(values))]

    assert len({t.target for t in holding}) <= 1, holding


def enter(values: dict[str, Any], transition: Transition) -> dict[str, Any]:
    after = {**values, **{k: v for k, v in transition.enter.items() if k in values}}
    if transition.ends_cycle:
        after.update(dict.fromkeys(SUB_STATUS_COLUMNS, SubStatus.DORMANT))
    return after


@given(path=st.lists(st.integers(min_value=0), max_size=30), values=rows)
def test_every_walk_through_the_table_leaves_the_next_steps_waiting(
    path: list[int], values: dict[str, Any]
) -> None:
    """Whatever the path, a status's own steps are WAITING_FOR_DATA (or done) on entry.

    Otherwise a status could wait on a step that no service will ever start: a dead end.
    """
    status = S.DORMANT
    values = {**values, **dict.fromkeys(SUB_STATUS_COLUMNS, SubStatus.DORMANT)}
    for choice in path:
        candidates = [t for t in TRANSITIONS if t.source is status]
        if not candidates:
            break
        transition = candidates[choice % len(candidates)]
        for column in transition.requires:  # what the services did before the move
            values[column] = SubStatus.READY
        values = enter(values, transition)
        status = transition.target
        for step in STEPS_OF.get(status, ()):
            if any(step in t.requires for t in TRANSITIONS if t.source is status):
                assert values[step] in (SubStatus.WAITING_FOR_DATA, SubStatus.READY), (status, step)
