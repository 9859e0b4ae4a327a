"""Each service's handler, in process, against the database and the emulator server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from infra.provision import Report
from services.data_fetcher.app import steps
from services.email_creation.app import EMAIL_STEP
from services.home_report.app import home_report_step
from services.intro.app import intro_step
from shared.adapters.db.models import Email
from shared.adapters.providers.data import SampleDataProvider
from shared.adapters.providers.llm import TemplateWriter
from shared.bootstrap import Runtime
from shared.domain.errors import TransientError
from shared.domain.events import StatusChange
from shared.domain.statuses import CampaignStatus as S
from shared.domain.statuses import SubStatus
from shared.domain.transitions import DATA_STEPS
from shared.service_layer.operations import UnknownCampaigns, apply_batch
from shared.service_layer.transitions import advance
from tests.factories import history, load, ready_to_create, set_ready, start
from tests.support import receive_all


async def test_data_kinds_fail_independently(runtime: Runtime) -> None:
    """An address the provider cannot find fails its kinds; the market data still arrives."""
    event = await start(runtime, address="9 Nowhere Road, Boise, ID")
    kinds = steps(SampleDataProvider())

    for step in kinds.values():
        await step.handle(event, runtime.unit_of_work(step.column, event.event_id))

    campaign = await load(runtime.sessions, event.campaign_id)
    assert campaign.property_status is SubStatus.ERROR
    assert campaign.local_market_data_status is SubStatus.READY
    assert campaign.local_market_data and campaign.local_market_data["area"] == "Boise, ID"
    assert campaign.campaign_status is S.ERROR
    assert campaign.error_reason == (
        "property_status: sample-data: address not found: '9 Nowhere Road, Boise, ID'"
    )


async def test_a_transient_provider_error_leaves_the_step_waiting_for_a_retry(
    runtime: Runtime,
) -> None:
    class Flaky(SampleDataProvider):
        async def recent_sales(self, address: str) -> dict[str, Any]:
            raise TransientError("property-data", "HTTP 503")

    event = await start(runtime)
    step = steps(Flaky())["recent-sales"]

    with pytest.raises(TransientError):
        await step.handle(event, runtime.unit_of_work("recent-sales", event.event_id))

    assert (await load(runtime.sessions, event.campaign_id)).recent_sale_status is (
        SubStatus.WAITING_FOR_DATA
    )


async def test_the_whole_data_stage_hands_over_to_the_home_report(
    runtime: Runtime, topology: Report
) -> None:
    event = await start(runtime)
    provider, writer = SampleDataProvider(), TemplateWriter()
    handlers = [*steps(provider).values(), intro_step(provider, writer)]

    await asyncio.gather(
        *(s.handle(event, runtime.unit_of_work(s.column, event.event_id)) for s in handlers)
    )

    campaign = await load(runtime.sessions, event.campaign_id)
    assert campaign.campaign_status is S.WAITING_FOR_HOME_ANALYSIS
    assert all(getattr(campaign, c) is SubStatus.READY for c in DATA_STEPS)
    assert campaign.intro and "Boise, ID" in campaign.intro and "6.27%" in campaign.intro
    assert campaign.property_data and campaign.active_listings and campaign.recent_sales
    (message,) = await receive_all(runtime.sqs, topology.queue_urls["home-report"])
    assert json.loads(message["Body"])["to_status"] == "WAITING_FOR_HOME_ANALYSIS"


async def test_no_address_home_report_is_ready_without_an_llm_call(runtime: Runtime) -> None:
    class Counting(TemplateWriter):
        calls = 0

        async def home_report(self, *, property_data: dict[str, Any]) -> str:
            Counting.calls += 1
            return await super().home_report(property_data=property_data)

    for no_address in (True, False):
        event = await start(
            runtime, no_address_newsletter=no_address, address=None if no_address else "1 A St"
        )
        await set_ready(runtime, event.campaign_id, *DATA_STEPS, property_data={"x": 1})
        async with runtime.unit_of_work() as uow:
            moved = await fire_advance(uow, event.campaign_id)
        step = home_report_step(Counting())
        await step.handle(moved, runtime.unit_of_work("home-report", moved.event_id))
        campaign = await load(runtime.sessions, event.campaign_id)
        assert campaign.campaign_status is S.READY_TO_CREATE_EMAIL
        assert (campaign.home_report_analysis is None) is no_address
    assert Counting.calls == 1


async def fire_advance(uow: Any, campaign_id: int) -> StatusChange:
    event = await advance(uow, campaign_id)
    await uow.commit()
    assert event is not None
    return event


async def test_two_workers_racing_build_the_email_exactly_once(runtime: Runtime) -> None:
    """Seed 000's duplicate-email race, closed with no lock status."""
    event = await ready_to_create(runtime, no_address_newsletter=True, address=None)
    twin = event.model_copy(update={"event_id": event.event_id.__class__(int=1)})

    await asyncio.gather(
        EMAIL_STEP.handle(event, runtime.unit_of_work("email-creation", event.event_id)),
        EMAIL_STEP.handle(twin, runtime.unit_of_work("email-creation", twin.event_id)),
        EMAIL_STEP.handle(event, runtime.unit_of_work("email-creation", event.event_id)),
        return_exceptions=True,
    )

    async with runtime.sessions() as session:
        emails = await session.scalar(
            select(func.count()).where(Email.campaign_id == event.campaign_id)
        )
    assert emails == 1
    moves = [r.to_status for r in await history(runtime.sessions, event.campaign_id)]
    assert moves == ["WAITING_FOR_DATA", "READY_TO_SEND_EMAIL"]


async def test_approval_required_campaign_waits_for_the_operator(runtime: Runtime) -> None:
    event = await ready_to_create(runtime, requires_approval=True)

    await EMAIL_STEP.handle(event, runtime.unit_of_work("email-creation", event.event_id))

    assert (await load(runtime.sessions, event.campaign_id)).campaign_status is (
        S.WAITING_FOR_MANUAL_APPROVAL
    )
    result = await apply_batch(runtime.unit_of_work(), "approve", [event.campaign_id])
    assert result.updated == [event.campaign_id]
    campaign = await load(runtime.sessions, event.campaign_id)
    assert campaign.campaign_status is S.READY_TO_SEND_EMAIL
    again = await apply_batch(runtime.unit_of_work(), "approve", [event.campaign_id])
    assert again.updated == []
    assert "READY_TO_SEND_EMAIL: cannot approve" in again.refused[event.campaign_id]


async def test_a_batch_with_an_unknown_id_changes_nothing(runtime: Runtime) -> None:
    event = await ready_to_create(runtime, requires_approval=True)
    await EMAIL_STEP.handle(event, runtime.unit_of_work("email-creation", event.event_id))

    with pytest.raises(UnknownCampaigns, match="999999"):
        await apply_batch(runtime.unit_of_work(), "approve", [event.campaign_id, 999_999])

    assert (await load(runtime.sessions, event.campaign_id)).campaign_status is (
        S.WAITING_FOR_MANUAL_APPROVAL
    )


async def test_retry_requeues_only_the_failed_step(runtime: Runtime, topology: Report) -> None:
    event = await start(runtime, address="9 Nowhere Road, Boise, ID")
    step = steps(SampleDataProvider())["property"]
    await step.handle(event, runtime.unit_of_work("property", event.event_id))
    assert (await load(runtime.sessions, event.campaign_id)).campaign_status is S.ERROR
    for name in topology.queue_urls:
        await receive_all(runtime.sqs, topology.queue_urls[name])

    result = await apply_batch(runtime.unit_of_work(), "retry", [event.campaign_id])

    assert result.updated == [event.campaign_id]
    campaign = await load(runtime.sessions, event.campaign_id)
    assert campaign.campaign_status is S.WAITING_FOR_DATA
    assert campaign.property_status is SubStatus.WAITING_FOR_DATA
    (message,) = await receive_all(runtime.sqs, topology.queue_urls["property"])
    retried = StatusChange.model_validate_json(message["Body"])
    assert (retried.from_status, retried.to_status, retried.reason) == (
        S.ERROR,
        S.WAITING_FOR_DATA,
        "operator retry",
    )
