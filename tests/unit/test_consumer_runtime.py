"""The consumer runtime around a real step handler, on fakes: SQS that keeps SQS's rules and
the in-memory unit of work. One message each, start to end."""

from __future__ import annotations

import json
from typing import Any

from services.data_fetcher.app import steps as data_steps
from shared.adapters.providers.data import SampleDataProvider
from shared.consumer.consumer import Consumer, ConsumerOptions
from shared.consumer.outage import Outage
from shared.consumer.outcomes import Retry
from shared.domain.events import StatusChange
from shared.domain.statuses import CampaignStatus as S
from shared.domain.statuses import SubStatus
from shared.domain.transitions import DATA_STEPS
from shared.service_layer.steps import Outcome, Step
from tests.fakes import FakeStore, FakeUnitOfWork, RuleKeepingSqs

STEP = data_steps(SampleDataProvider())["property"]


def message(body: str, receives: int = 1, receipt: str = "r-1") -> dict[str, Any]:
    return {
        "MessageId": f"m-{receipt}",
        "ReceiptHandle": receipt,
        "Body": body,
        "Attributes": {"ApproximateReceiveCount": str(receives)},
        "MessageAttributes": {},
    }


def enveloped(event: StatusChange) -> str:
    return json.dumps({"Type": "Notification", "Message": event.model_dump_json()})


async def consume(
    store: FakeStore, step: Step, *messages: dict[str, Any], outages: tuple[Outage, ...] = ()
) -> RuleKeepingSqs:
    sqs = RuleKeepingSqs(max_receive_count=3)
    consumer: Consumer[FakeUnitOfWork] = Consumer(
        "property",
        RuleKeepingSqs.QUEUE,
        sqs,
        {StatusChange: step.handle},
        store.unit_of_work,
        ConsumerOptions(backoff_base_seconds=2),
        on_give_up=step.give_up,
        outages=outages,
    )
    await consumer.prepare()
    for each in messages:
        await consumer.handling.dispatch(each)
    await consumer.deleter.close()
    return sqs


def waiting(store: FakeStore) -> StatusChange:
    row = store.add_campaign(
        campaign_status=S.WAITING_FOR_DATA,
        cycle=1,
        **dict.fromkeys(DATA_STEPS, SubStatus.WAITING_FOR_DATA),
    )
    return StatusChange(
        campaign_id=row.id, cycle=1, from_status=S.DORMANT, to_status=S.WAITING_FOR_DATA
    )


async def test_a_status_change_in_an_sns_envelope_is_handled_then_deleted() -> None:
    store = FakeStore()
    event = waiting(store)

    sqs = await consume(store, STEP, message(enveloped(event)))

    assert store.campaigns[event.campaign_id].property_status is SubStatus.READY
    assert ("property", event.event_id) in store.processed
    assert sqs.deleted == ["r-1"] and sqs.dead_letters == [] and sqs.released == []


async def test_a_second_delivery_of_a_handled_event_is_deleted_without_work() -> None:
    store = FakeStore()
    event = waiting(store)
    calls: list[int] = []

    async def counted(campaign: Any) -> Outcome:
        calls.append(campaign.id)
        return Outcome()

    step = Step("property_status", counted)
    sqs = await consume(
        store,
        step,
        message(event.model_dump_json(), receipt="a"),
        message(enveloped(event), 1, "b"),
    )

    assert calls == [event.campaign_id]
    assert sqs.deleted == ["a", "b"]


async def test_a_malformed_message_goes_to_the_dlq_with_its_reason() -> None:
    store = FakeStore()

    sqs = await consume(store, STEP, message('{"event_type": "STATUS_CHANGE", "cycle": -1}'))

    (attributes,) = sqs.dead_letters
    reason = attributes["failure_reason"]["StringValue"]
    assert reason.startswith("invalid event: ") and "cycle" in reason
    assert attributes["failed_consumer"]["StringValue"] == "property"
    assert sqs.deleted == ["r-1"]


async def test_a_retry_hands_the_message_back_after_its_delay() -> None:
    store = FakeStore()
    event = waiting(store)

    async def busy(_: Any) -> Outcome:
        raise Retry("provider asked to wait", delay=7.2)

    sqs = await consume(store, Step("property_status", busy), message(event.model_dump_json()))

    assert sqs.visibility == [("r-1", 8)] and sqs.deleted == []
    assert store.campaigns[event.campaign_id].property_status is SubStatus.WAITING_FOR_DATA


async def test_the_last_failure_marks_the_step_error_and_dead_letters_the_event() -> None:
    store = FakeStore()
    event = waiting(store)

    async def broken(_: Any) -> Outcome:
        raise RuntimeError("provider returned garbage")

    step = Step("property_status", broken)
    first = await consume(store, step, message(event.model_dump_json(), receives=1))
    last = await consume(store, step, message(event.model_dump_json(), receives=3))

    assert first.visibility == [("r-1", 2)] and first.dead_letters == []
    campaign = store.campaigns[event.campaign_id]
    assert campaign.property_status is SubStatus.ERROR
    assert campaign.campaign_status is S.ERROR
    (attributes,) = last.dead_letters
    assert attributes["failure_reason"]["StringValue"] == (
        "failed 3 times; last error RuntimeError: provider returned garbage"
    )
    assert store.status_changes() == [(S.WAITING_FOR_DATA, S.ERROR)]


class DatabaseDown(Exception):
    """What the database adapter's classifier recognises as the server being unreachable."""


async def test_a_database_outage_hands_the_message_back_and_never_dead_letters_it() -> None:
    """Even on the last receive: the outage is not the message's fault."""
    store = FakeStore()
    event = waiting(store)
    probes: list[int] = []

    async def probe() -> None:
        probes.append(1)
        raise DatabaseDown("still down")

    async def needs_the_database(_: Any) -> Outcome:
        raise RuntimeError("could not run the query") from DatabaseDown("connection refused")

    outage = Outage("database", probe, lambda exc: isinstance(exc, DatabaseDown))
    step = Step("property_status", needs_the_database)
    sqs = await consume(
        store, step, message(event.model_dump_json(), receives=3), outages=(outage,)
    )

    assert sqs.dead_letters == [] and sqs.deleted == []
    assert sqs.visibility == [("r-1", 5)]  # back in SQS shortly, for whoever is receiving then
    assert outage.down and probes == []  # marked; the consumers' loops probe it, not handlers
    assert store.campaigns[event.campaign_id].property_status is SubStatus.WAITING_FOR_DATA
    assert await outage.held() == "database unreachable for 0s"
