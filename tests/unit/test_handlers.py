"""Each service's handler on the fake unit of work: given a campaign, when its step completes,
then this status and exactly these events. No database, no emulator."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.data_fetcher.app import steps as data_steps
from services.email_creation.app import EMAIL_STEP
from services.home_report.app import home_report_step
from services.intro.app import intro_step
from shared.adapters.db.models import Campaign, Email
from shared.adapters.providers.data import SampleDataProvider
from shared.adapters.providers.llm import TemplateWriter
from shared.consumer.outcomes import Reject
from shared.domain.clock import utcnow_naive
from shared.domain.events import StatusChange
from shared.domain.statuses import CampaignStatus as S
from shared.domain.statuses import SubStatus
from shared.domain.transitions import DATA_STEPS, SUB_STATUS_COLUMNS
from shared.service_layer.steps import Outcome, Step, mark_failed
from tests.fakes import FakeStore

CYCLE = 1


def data_stage(store: FakeStore, **fields: object) -> StatusChange:
    """A campaign that has just entered WAITING_FOR_DATA, and the event that says so."""
    row = store.add_campaign(
        campaign_status=S.WAITING_FOR_DATA,
        cycle=CYCLE,
        **dict.fromkeys(DATA_STEPS, SubStatus.WAITING_FOR_DATA),
        **fields,
    )
    return StatusChange(
        campaign_id=row.id, cycle=CYCLE, from_status=S.DORMANT, to_status=S.WAITING_FOR_DATA
    )


def every_data_step() -> list[tuple[str, Step]]:
    provider, writer = SampleDataProvider(), TemplateWriter()
    named = {**data_steps(provider), "intro": intro_step(provider, writer)}
    return sorted(named.items())


async def complete(store: FakeStore, queue: str, step: Step, event: StatusChange) -> None:
    await step.handle(event, store.unit_of_work(queue, event.event_id))


async def test_one_data_step_sets_its_own_sub_status_and_moves_nothing() -> None:
    store = FakeStore()
    event = data_stage(store)

    await complete(store, "property", data_steps(SampleDataProvider())["property"], event)

    campaign = store.campaigns[event.campaign_id]
    assert campaign.property_status is SubStatus.READY
    assert campaign.property_data is not None
    assert campaign.campaign_status is S.WAITING_FOR_DATA
    assert all(getattr(campaign, c) is SubStatus.WAITING_FOR_DATA for c in DATA_STEPS[1:])
    assert store.events == []


@pytest.mark.parametrize("last", range(5))
async def test_the_last_of_the_five_data_steps_moves_the_campaign_once(last: int) -> None:
    store = FakeStore()
    event = data_stage(store)
    named = every_data_step()
    order = [*named[:last], *named[last + 1 :], named[last]]

    for queue, step in order[:-1]:
        await complete(store, queue, step, event)
    assert store.events == []
    await complete(store, *order[-1], event)

    campaign = store.campaigns[event.campaign_id]
    assert campaign.campaign_status is S.WAITING_FOR_HOME_ANALYSIS
    assert campaign.home_report_analysis_status is SubStatus.WAITING_FOR_DATA
    (new,) = store.events
    assert isinstance(new.event, StatusChange) and new.queue is None
    assert (new.event.campaign_id, new.event.cycle) == (event.campaign_id, CYCLE)
    assert (new.event.from_status, new.event.to_status) == (
        S.WAITING_FOR_DATA,
        S.WAITING_FOR_HOME_ANALYSIS,
    )


async def test_a_redelivered_event_changes_nothing_and_emits_nothing() -> None:
    store = FakeStore()
    event = data_stage(store)
    step = data_steps(SampleDataProvider())["recent-sales"]
    await complete(store, "recent-sales", step, event)
    data = store.campaigns[event.campaign_id].recent_sales

    await complete(store, "recent-sales", step, event)

    assert store.campaigns[event.campaign_id].recent_sales == data
    assert store.events == []


async def test_an_event_from_an_older_cycle_is_stale() -> None:
    store = FakeStore()
    event = data_stage(store)
    stale = event.model_copy(update={"cycle": CYCLE - 1})

    await complete(store, "property", data_steps(SampleDataProvider())["property"], stale)

    assert store.campaigns[event.campaign_id].property_status is SubStatus.WAITING_FOR_DATA
    assert store.events == []


async def test_an_event_for_a_campaign_that_does_not_exist_is_rejected() -> None:
    """Not stale but wrong (a typo in a hand-injected event): the runtime dead-letters it."""
    store = FakeStore()
    event = data_stage(store)
    typo = event.model_copy(update={"campaign_id": event.campaign_id + 1000})

    for queue, step in every_data_step():
        with pytest.raises(Reject, match=f"campaign {typo.campaign_id} does not exist"):
            await complete(store, queue, step, typo)

    assert store.campaigns[event.campaign_id].property_status is SubStatus.WAITING_FOR_DATA
    assert store.events == []


async def test_an_address_the_provider_cannot_find_fails_the_cycle_with_its_reason() -> None:
    store = FakeStore()
    event = data_stage(store, address="1 Nowhere Road, Nowhere, ZZ 00000")

    await complete(store, "property", data_steps(SampleDataProvider())["property"], event)

    campaign = store.campaigns[event.campaign_id]
    assert campaign.property_status is SubStatus.ERROR
    assert campaign.campaign_status is S.ERROR
    assert campaign.error_from_status is S.WAITING_FOR_DATA
    assert campaign.error_reason and campaign.error_reason.startswith("property_status: ")
    (new,) = store.events
    assert new.event.to_status is S.ERROR  # type: ignore[attr-defined]
    assert new.event.reason == campaign.error_reason  # type: ignore[attr-defined]


async def test_the_first_error_is_the_reason_a_later_one_does_not_overwrite_it() -> None:
    store = FakeStore()
    event = data_stage(store)
    await mark_failed("intro_status")(event, store.unit_of_work("intro", event.event_id), "LLM")
    first = store.campaigns[event.campaign_id].error_reason

    await mark_failed("property_status")(event, store.unit_of_work(), "later")

    assert first == "intro_status: LLM"
    assert store.campaigns[event.campaign_id].error_reason == first
    assert store.status_changes() == [(S.WAITING_FOR_DATA, S.ERROR)]


async def test_home_report_moves_the_campaign_to_email_creation() -> None:
    store = FakeStore()
    property_data = await SampleDataProvider().property_valuation("3 Oak Lane, Springfield")
    row = store.add_campaign(
        campaign_status=S.WAITING_FOR_HOME_ANALYSIS,
        cycle=CYCLE,
        home_report_analysis_status=SubStatus.WAITING_FOR_DATA,
        property_data=property_data,
        **dict.fromkeys(DATA_STEPS, SubStatus.READY),
    )
    event = StatusChange(
        campaign_id=row.id,
        cycle=CYCLE,
        from_status=S.WAITING_FOR_DATA,
        to_status=S.WAITING_FOR_HOME_ANALYSIS,
    )

    await complete(store, "home-report", home_report_step(TemplateWriter()), event)

    assert row.home_report_analysis
    assert row.email_status is SubStatus.WAITING_FOR_DATA
    assert store.status_changes() == [(S.WAITING_FOR_HOME_ANALYSIS, S.READY_TO_CREATE_EMAIL)]


@pytest.mark.parametrize(
    ("requires_approval", "then"),
    [(True, S.WAITING_FOR_MANUAL_APPROVAL), (False, S.READY_TO_SEND_EMAIL)],
)
async def test_email_creation_builds_one_email_then_awaits_approval_or_sending(
    requires_approval: bool, then: S
) -> None:
    store = FakeStore()
    row = store.add_campaign(
        campaign_status=S.READY_TO_CREATE_EMAIL,
        cycle=CYCLE,
        requires_approval=requires_approval,
        no_address_newsletter=True,
        intro="Hello from the market.",
        local_market_data=await SampleDataProvider().local_market("Springfield, IL"),
        mortgage_rate=6.1,
        email_status=SubStatus.WAITING_FOR_DATA,
        **dict.fromkeys(DATA_STEPS, SubStatus.READY),
        home_report_analysis_status=SubStatus.READY,
    )
    event = StatusChange(
        campaign_id=row.id,
        cycle=CYCLE,
        from_status=S.WAITING_FOR_HOME_ANALYSIS,
        to_status=S.READY_TO_CREATE_EMAIL,
    )

    await complete(store, "email-creation", EMAIL_STEP, event)
    await complete(store, "email-creation", EMAIL_STEP, event)  # a duplicate builds nothing

    (email,) = store.rows
    assert isinstance(email, Email) and (email.campaign_id, email.cycle) == (row.id, CYCLE)
    assert store.status_changes() == [(S.READY_TO_CREATE_EMAIL, then)]
    expected_send_status = SubStatus.DORMANT if requires_approval else SubStatus.WAITING_FOR_DATA
    assert row.send_status is expected_send_status


async def test_a_unit_of_work_left_without_commit_changes_nothing() -> None:
    store = FakeStore()
    event = data_stage(store)
    uow = store.unit_of_work()

    async with uow:
        moved = await uow.campaigns.compare_and_set(
            event.campaign_id,
            status=S.WAITING_FOR_DATA,
            cycle=CYCLE,
            expect={},
            values={"campaign_status": S.ERROR},
        )
        uow.emit(event)

    assert moved and not uow.committed
    assert store.campaigns[event.campaign_id].campaign_status is S.WAITING_FOR_DATA
    assert store.events == []


def sending(store: FakeStore, **fields: object) -> StatusChange:
    row = store.add_campaign(
        campaign_status=S.SENDING, cycle=CYCLE, send_status=SubStatus.WAITING_FOR_DATA, **fields
    )
    return StatusChange(
        campaign_id=row.id, cycle=CYCLE, from_status=S.READY_TO_SEND_EMAIL, to_status=S.SENDING
    )


async def delivered(_: Campaign) -> Outcome:
    return Outcome()


async def test_a_finished_send_ends_the_cycle_and_schedules_the_next_by_the_cadence() -> None:
    store = FakeStore()
    due = utcnow_naive() - timedelta(hours=1)
    event = sending(store, next_send_datetime=due, cadence_days=7)

    await Step("send_status", delivered).handle(event, store.unit_of_work("sender", event.event_id))

    row = store.campaigns[event.campaign_id]
    assert row.campaign_status is S.DORMANT
    assert row.next_send_datetime == due + timedelta(days=7)
    assert all(getattr(row, c) is SubStatus.DORMANT for c in SUB_STATUS_COLUMNS)
    assert store.status_changes() == [(S.SENDING, S.DORMANT)]


async def test_a_send_given_up_on_puts_the_campaign_in_error_from_sending() -> None:
    store = FakeStore()
    event = sending(store)

    await mark_failed("send_status")(event, store.unit_of_work(), "SES refused every recipient")

    row = store.campaigns[event.campaign_id]
    assert (row.campaign_status, row.error_from_status) == (S.ERROR, S.SENDING)
    assert row.error_reason == "send_status: SES refused every recipient"
    assert store.status_changes() == [(S.SENDING, S.ERROR)]
