"""Operator actions and the scheduler on the fake unit of work: batches, retries, schedules."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.scheduler.app import start_due_campaigns
from shared.adapters.db.models import AuditEntry
from shared.domain.clock import utcnow_naive
from shared.domain.statuses import CampaignStatus as S
from shared.domain.statuses import PipelineState, SubStatus
from shared.domain.transitions import DATA_STEPS, STEPS_OF
from shared.service_layer.operations import UnknownCampaigns, apply_batch
from tests.fakes import FakeStore


async def test_approve_moves_only_the_campaigns_waiting_and_says_why_not_for_the_rest() -> None:
    store = FakeStore()
    waiting = store.add_campaign(campaign_status=S.WAITING_FOR_MANUAL_APPROVAL, cycle=2)
    dormant = store.add_campaign()

    result = await apply_batch(
        store.unit_of_work(), "approve", [dormant.id, waiting.id], actor="ada"
    )

    assert result.updated == [waiting.id]
    assert result.refused == {dormant.id: f"campaign {dormant.id} is DORMANT: cannot approve"}
    assert waiting.campaign_status is S.READY_TO_SEND_EMAIL
    assert waiting.send_status is SubStatus.WAITING_FOR_DATA
    assert store.status_changes() == [(S.WAITING_FOR_MANUAL_APPROVAL, S.READY_TO_SEND_EMAIL)]
    (entry,) = store.rows
    assert isinstance(entry, AuditEntry)
    assert (entry.actor, entry.action, entry.campaign_id) == ("ada", "approve", waiting.id)


async def test_reject_ends_the_cycle_without_sending() -> None:
    store = FakeStore()
    waiting = store.add_campaign(campaign_status=S.WAITING_FOR_MANUAL_APPROVAL, cycle=2)

    await apply_batch(store.unit_of_work(), "reject", [waiting.id])

    assert waiting.campaign_status is S.DORMANT and waiting.cycle == 2
    assert waiting.next_send_datetime > utcnow_naive()
    assert store.status_changes() == [(S.WAITING_FOR_MANUAL_APPROVAL, S.DORMANT)]


async def test_an_unknown_id_refuses_the_whole_batch() -> None:
    store = FakeStore()
    waiting = store.add_campaign(campaign_status=S.WAITING_FOR_MANUAL_APPROVAL, cycle=1)

    with pytest.raises(UnknownCampaigns) as refused:
        await apply_batch(store.unit_of_work(), "approve", [waiting.id, 99])

    assert refused.value.ids == [99]
    assert waiting.campaign_status is S.WAITING_FOR_MANUAL_APPROVAL
    assert store.events == [] and store.rows == []


async def test_retry_sends_only_the_failed_steps_round_again() -> None:
    store = FakeStore()
    failed = store.add_campaign(
        campaign_status=S.ERROR,
        error_from_status=S.WAITING_FOR_DATA,
        error_reason="intro_status: the model said no",
        cycle=3,
        **{**dict.fromkeys(DATA_STEPS, SubStatus.READY), "intro_status": SubStatus.ERROR},
    )

    await apply_batch(store.unit_of_work(), "retry", [failed.id])

    assert failed.campaign_status is S.WAITING_FOR_DATA and failed.cycle == 3
    assert failed.intro_status is SubStatus.WAITING_FOR_DATA
    assert all(getattr(failed, c) is SubStatus.READY for c in DATA_STEPS if c != "intro_status")
    assert failed.error_reason is None and failed.error_from_status is None
    (new,) = store.events
    assert new.event.reason == "operator retry"  # type: ignore[attr-defined]
    assert store.status_changes() == [(S.ERROR, S.WAITING_FOR_DATA)]


async def test_a_send_that_failed_is_retried_from_ready_to_send() -> None:
    store = FakeStore()
    failed = store.add_campaign(
        campaign_status=S.ERROR, error_from_status=S.SENDING, cycle=1, send_status=SubStatus.ERROR
    )

    await apply_batch(store.unit_of_work(), "retry", [failed.id])

    assert failed.campaign_status is S.READY_TO_SEND_EMAIL
    assert failed.send_status is SubStatus.WAITING_FOR_DATA
    assert store.status_changes() == [(S.ERROR, S.READY_TO_SEND_EMAIL)]


async def test_the_scheduler_starts_each_due_cycle_once_and_nothing_early() -> None:
    store = FakeStore()
    due = store.add_campaign(cycle=4, error_reason="old", intro_status=SubStatus.READY)
    later = store.add_campaign(next_send_datetime=utcnow_naive() + timedelta(days=1))

    assert await start_due_campaigns(store.unit_of_work) == 1
    assert await start_due_campaigns(store.unit_of_work) == 0

    assert due.campaign_status is S.WAITING_FOR_DATA and due.cycle == 5
    assert all(getattr(due, c) is SubStatus.WAITING_FOR_DATA for c in STEPS_OF[S.WAITING_FOR_DATA])
    assert due.error_reason is None
    assert later.campaign_status is S.DORMANT
    (new,) = store.events
    assert new.event.cycle == 5  # type: ignore[attr-defined]
    assert store.status_changes() == [(S.DORMANT, S.WAITING_FOR_DATA)]


async def test_a_paused_pipeline_starts_no_cycle() -> None:
    store = FakeStore(pipeline_state=PipelineState.PAUSED)
    due = store.add_campaign()

    assert await start_due_campaigns(store.unit_of_work) == 0
    assert due.campaign_status is S.DORMANT and store.events == []


async def test_send_now_starts_a_dormant_cycle_early_and_keeps_its_schedule() -> None:
    store = FakeStore()
    ahead = utcnow_naive() + timedelta(days=9)
    dormant = store.add_campaign(next_send_datetime=ahead)

    result = await apply_batch(store.unit_of_work(), "send_now", [dormant.id])

    assert result.updated == [dormant.id]
    assert dormant.campaign_status is S.WAITING_FOR_DATA and dormant.cycle == 1
    assert dormant.next_send_datetime == ahead
