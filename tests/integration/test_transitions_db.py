"""The transition function against the real database: compare-and-set, outbox, error, retry."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.adapters.db.models import Campaign
from shared.adapters.db.uow import SqlUnitOfWork
from shared.domain.clock import utcnow_naive
from shared.domain.events import StatusChange
from shared.domain.statuses import CampaignStatus as S
from shared.domain.statuses import SubStatus
from shared.domain.transitions import DATA_STEPS, TransitionRefused, Trigger
from shared.service_layer.steps import finish_step
from shared.service_layer.transitions import advance, fire, retry
from tests.factories import history, load, make_campaign

Sessions = async_sessionmaker[AsyncSession]


async def _start(sessions: Sessions, campaign_id: int) -> StatusChange:
    async with SqlUnitOfWork(sessions) as uow:
        event = await fire(uow, campaign_id, Trigger.SCHEDULE)
        await uow.commit()
    return event


async def _set(sessions: Sessions, campaign_id: int, **values: Any) -> None:
    async with sessions() as session:
        await session.execute(update(Campaign).where(Campaign.id == campaign_id).values(**values))
        await session.commit()


async def test_schedule_starts_a_cycle_and_writes_its_status_change(sessions: Sessions) -> None:
    campaign_id = await make_campaign(sessions)

    event = await _start(sessions, campaign_id)

    campaign = await load(sessions, campaign_id)
    assert campaign.campaign_status is S.WAITING_FOR_DATA
    assert campaign.cycle == 1
    assert all(getattr(campaign, step) is SubStatus.WAITING_FOR_DATA for step in DATA_STEPS)
    assert campaign.home_report_analysis_status is SubStatus.DORMANT
    (row,) = await history(sessions, campaign_id)
    assert (row.from_status, row.to_status, row.cycle) == ("DORMANT", "WAITING_FOR_DATA", 1)
    assert json.loads(row.payload)["event_id"] == str(event.event_id) == row.event_id
    assert row.published_at is None


async def test_schedule_refuses_a_campaign_that_is_not_due(sessions: Sessions) -> None:
    campaign_id = await make_campaign(
        sessions, next_send_datetime=utcnow_naive() + timedelta(days=1)
    )

    with pytest.raises(TransitionRefused, match="cannot schedule"):
        await _start(sessions, campaign_id)

    assert (await load(sessions, campaign_id)).campaign_status is S.DORMANT
    assert await history(sessions, campaign_id) == []


async def test_data_stage_advances_only_when_the_last_step_is_ready(sessions: Sessions) -> None:
    campaign_id = await make_campaign(sessions)
    start = await _start(sessions, campaign_id)

    for step in DATA_STEPS:
        assert (await load(sessions, campaign_id)).campaign_status is S.WAITING_FOR_DATA
        async with SqlUnitOfWork(sessions) as uow:
            assert await finish_step(uow, start, step, data={})

    campaign = await load(sessions, campaign_id)
    assert campaign.campaign_status is S.WAITING_FOR_HOME_ANALYSIS
    assert campaign.home_report_analysis_status is SubStatus.WAITING_FOR_DATA
    assert [r.to_status for r in await history(sessions, campaign_id)] == [
        "WAITING_FOR_DATA",
        "WAITING_FOR_HOME_ANALYSIS",
    ]


async def test_a_whole_cycle_ends_dormant_with_the_next_send_scheduled(sessions: Sessions) -> None:
    due = utcnow_naive() - timedelta(hours=1)
    campaign_id = await make_campaign(sessions, next_send_datetime=due, cadence_days=7)
    start = await _start(sessions, campaign_id)
    for step in (*DATA_STEPS, "home_report_analysis_status", "email_status"):
        async with SqlUnitOfWork(sessions) as uow:
            assert await finish_step(uow, start, step)
    async with SqlUnitOfWork(sessions) as uow:
        await fire(uow, campaign_id, Trigger.SEND_STARTED)
        await uow.commit()
    async with SqlUnitOfWork(sessions) as uow:
        assert await finish_step(uow, start, "send_status")

    campaign = await load(sessions, campaign_id)
    assert campaign.campaign_status is S.DORMANT
    assert campaign.cycle == 1
    assert campaign.next_send_datetime == due + timedelta(days=7)
    assert campaign.send_status is SubStatus.DORMANT
    assert [r.to_status for r in await history(sessions, campaign_id)] == [
        "WAITING_FOR_DATA",
        "WAITING_FOR_HOME_ANALYSIS",
        "READY_TO_CREATE_EMAIL",
        "READY_TO_SEND_EMAIL",
        "SENDING",
        "DORMANT",
    ]


async def test_approval_is_required_when_the_campaign_says_so(sessions: Sessions) -> None:
    campaign_id = await make_campaign(sessions, requires_approval=True)
    start = await _start(sessions, campaign_id)
    for step in (*DATA_STEPS, "home_report_analysis_status", "email_status"):
        async with SqlUnitOfWork(sessions) as uow:
            await finish_step(uow, start, step)
    assert (await load(sessions, campaign_id)).campaign_status is S.WAITING_FOR_MANUAL_APPROVAL

    async with SqlUnitOfWork(sessions) as uow:
        event = await fire(uow, campaign_id, Trigger.APPROVE)
        await uow.commit()

    assert event.to_status is S.READY_TO_SEND_EMAIL
    campaign = await load(sessions, campaign_id)
    assert campaign.send_status is SubStatus.WAITING_FOR_DATA


async def test_a_failed_step_puts_the_campaign_in_error_and_retry_reruns_only_it(
    sessions: Sessions,
) -> None:
    campaign_id = await make_campaign(sessions)
    start = await _start(sessions, campaign_id)
    async with SqlUnitOfWork(sessions) as uow:
        await finish_step(uow, start, "property_status", data={"property_data": {"value": 1}})
    async with SqlUnitOfWork(sessions) as uow:
        await finish_step(uow, start, "intro_status", error="LLM said no")

    campaign = await load(sessions, campaign_id)
    assert campaign.campaign_status is S.ERROR
    assert campaign.error_reason == "intro_status: LLM said no"
    assert campaign.error_from_status is S.WAITING_FOR_DATA
    error_row = (await history(sessions, campaign_id))[-1]
    assert error_row.to_status == "ERROR"
    assert json.loads(error_row.payload)["reason"] == "intro_status: LLM said no"

    async with SqlUnitOfWork(sessions) as uow:
        event = await retry(uow, campaign_id)
        await uow.commit()

    campaign = await load(sessions, campaign_id)
    assert (event.from_status, event.to_status) == (S.ERROR, S.WAITING_FOR_DATA)
    assert campaign.campaign_status is S.WAITING_FOR_DATA
    assert campaign.intro_status is SubStatus.WAITING_FOR_DATA
    assert campaign.property_status is SubStatus.READY  # not fetched again
    assert campaign.property_data == {"value": 1}
    assert campaign.error_reason is None


async def test_a_stale_cycle_event_changes_nothing(sessions: Sessions) -> None:
    campaign_id = await make_campaign(sessions)
    start = await _start(sessions, campaign_id)
    old = start.model_copy(update={"cycle": start.cycle - 1})

    async with SqlUnitOfWork(sessions) as uow:
        assert not await finish_step(uow, old, "property_status")

    assert (await load(sessions, campaign_id)).property_status is SubStatus.WAITING_FOR_DATA


async def test_a_rolled_back_transition_leaves_no_outbox_row(sessions: Sessions) -> None:
    campaign_id = await make_campaign(sessions)

    async with SqlUnitOfWork(sessions) as uow:
        await fire(uow, campaign_id, Trigger.SCHEDULE)
        # no commit: leaving the block rolls back

    assert (await load(sessions, campaign_id)).campaign_status is S.DORMANT
    assert await history(sessions, campaign_id) == []


async def test_racing_last_two_sub_statuses_produce_exactly_one_status_change(
    sessions: Sessions,
) -> None:
    """Two workers commit the last two data steps at the same moment, many times over."""
    for _ in range(15):
        campaign_id = await make_campaign(sessions)
        start = await _start(sessions, campaign_id)
        await _set(sessions, campaign_id, **{step: SubStatus.READY for step in DATA_STEPS[:3]})

        async def worker(step: str, start: StatusChange = start) -> None:
            async with SqlUnitOfWork(sessions) as uow:
                await finish_step(uow, start, step)

        await asyncio.gather(worker(DATA_STEPS[3]), worker(DATA_STEPS[4]))

        assert (await load(sessions, campaign_id)).campaign_status is S.WAITING_FOR_HOME_ANALYSIS
        moves = [r.to_status for r in await history(sessions, campaign_id)]
        assert moves == ["WAITING_FOR_DATA", "WAITING_FOR_HOME_ANALYSIS"]


async def test_two_schedulers_start_a_cycle_once(sessions: Sessions) -> None:
    campaign_id = await make_campaign(sessions)

    results = await asyncio.gather(
        _start(sessions, campaign_id), _start(sessions, campaign_id), return_exceptions=True
    )

    assert sum(isinstance(r, StatusChange) for r in results) == 1
    assert sum(isinstance(r, TransitionRefused) for r in results) == 1
    assert len(await history(sessions, campaign_id)) == 1


async def test_advance_on_a_missing_campaign_is_a_no_op(sessions: Sessions) -> None:
    async with SqlUnitOfWork(sessions) as uow:
        assert await advance(uow, 999_999) is None
