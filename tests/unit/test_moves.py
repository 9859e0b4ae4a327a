"""The rules alone: which move a snapshot allows, with no storage at all."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from shared.domain import moves
from shared.domain.statuses import CampaignStatus as S
from shared.domain.statuses import SubStatus
from shared.domain.transitions import DATA_STEPS, SUB_STATUS_COLUMNS, Snapshot, TransitionRefused
from shared.domain.transitions import Trigger as T

NOW = datetime(2026, 12, 1, 9, 0)


def snapshot(status: S, **steps: SubStatus) -> Snapshot:
    return Snapshot(
        status=status,
        cycle=2,
        next_send_datetime=NOW - timedelta(minutes=1),
        cadence_days=14,
        requires_approval=False,
        error_reason=None,
        error_from_status=None,
        steps={**dict.fromkeys(SUB_STATUS_COLUMNS, SubStatus.DORMANT), **steps},
    )


def test_four_of_five_data_steps_ready_is_not_enough() -> None:
    ready = dict.fromkeys(DATA_STEPS[:-1], SubStatus.READY)
    waiting = snapshot(S.WAITING_FOR_DATA, **ready, intro_status=SubStatus.WAITING_FOR_DATA)

    assert moves.after_step(waiting, NOW) is None


def test_five_ready_data_steps_move_on_and_the_compare_and_set_expects_them_ready() -> None:
    move = moves.after_step(
        snapshot(S.WAITING_FOR_DATA, **dict.fromkeys(DATA_STEPS, SubStatus.READY)), NOW
    )

    assert move is not None
    assert (move.source, move.target, move.cycle) == (
        S.WAITING_FOR_DATA,
        S.WAITING_FOR_HOME_ANALYSIS,
        2,
    )
    assert move.expect == dict.fromkeys(DATA_STEPS, SubStatus.READY)
    assert move.values == {"home_report_analysis_status": SubStatus.WAITING_FOR_DATA}


def test_an_error_in_a_step_of_the_stage_fails_the_campaign_even_if_others_wait() -> None:
    move = moves.after_step(snapshot(S.WAITING_FOR_DATA, intro_status=SubStatus.ERROR), NOW)

    assert move is not None and move.target is S.ERROR
    assert move.values == {"error_from_status": S.WAITING_FOR_DATA}
    assert move.expect == {"intro_status": SubStatus.ERROR}


def test_the_schedule_starts_a_new_cycle_only_once_it_is_due() -> None:
    due = snapshot(S.DORMANT)
    early = replace(due, next_send_datetime=NOW + timedelta(seconds=1))

    move = moves.on_trigger(due, T.SCHEDULE, NOW, campaign_id=7)
    with pytest.raises(TransitionRefused, match="campaign 7 is DORMANT: cannot schedule"):
        moves.on_trigger(early, T.SCHEDULE, NOW, campaign_id=7)

    assert move.cycle == 3 and move.values["cycle"] == 3
    assert all(move.values[c] is SubStatus.WAITING_FOR_DATA for c in DATA_STEPS)


def test_a_cycle_that_ends_late_is_scheduled_after_now_by_whole_cadences() -> None:
    late = replace(
        snapshot(S.WAITING_FOR_MANUAL_APPROVAL), next_send_datetime=NOW - timedelta(days=30)
    )

    move = moves.on_trigger(late, T.REJECT, NOW, campaign_id=1)

    assert move.target is S.DORMANT
    assert move.values["next_send_datetime"] == NOW - timedelta(days=30) + timedelta(days=42)


def test_only_a_campaign_in_error_can_be_retried() -> None:
    with pytest.raises(TransitionRefused, match="is SENDING, not ERROR"):
        moves.on_retry(snapshot(S.SENDING), campaign_id=1)
