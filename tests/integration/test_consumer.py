"""The consumer runtime against the emulator server and the database."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, select, update

from infra.provision import Report
from services.intro.app import intro_step
from shared.adapters.db.models import Campaign, ProcessedEvent, Recipient
from shared.adapters.db.uow import SqlUnitOfWork
from shared.adapters.providers.data import SampleDataProvider
from shared.adapters.providers.llm import TemplateWriter
from shared.adapters.topology import TOPOLOGY
from shared.bootstrap import Runtime
from shared.consumer.consumer import Consumer
from shared.consumer.handling import Handler
from shared.consumer.outcomes import Reject, Retry
from shared.domain.events import StatusChange
from shared.domain.statuses import CampaignStatus as S
from shared.domain.statuses import SubStatus
from shared.domain.transitions import DATA_STEPS, Trigger
from shared.service_layer.steps import finish_step
from shared.service_layer.transitions import fire
from tests.conftest import EVENTS
from tests.factories import history, load, make_campaign
from tests.support import eventually, receive_all

QUEUE = TOPOLOGY.queue("intro")


async def started_campaign(runtime: Runtime) -> StatusChange:
    """A campaign in WAITING_FOR_DATA whose start event is already published (and drained)."""
    campaign_id = await make_campaign(runtime.sessions)
    async with runtime.unit_of_work() as uow:
        event = await fire(uow, campaign_id, Trigger.SCHEDULE)
        await uow.commit()
    for spec in TOPOLOGY.queues:
        await receive_all(runtime.sqs, await runtime.queue_url(spec))
    return event


async def send(runtime: Runtime, body: str, **attributes: str) -> None:
    await runtime.sqs.send_message(
        QueueUrl=await runtime.queue_url(QUEUE),
        MessageBody=body,
        MessageAttributes={
            k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
        },
    )


@asynccontextmanager
async def consuming(runtime: Runtime, handler: Handler, **options: Any) -> AsyncIterator[Consumer]:
    consumer = await runtime.consumer(QUEUE, {StatusChange: handler}, **options)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield consumer
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


def intro_handler(calls: list[StatusChange]) -> Handler:
    async def handle(event: StatusChange, uow: SqlUnitOfWork) -> None:
        calls.append(event)
        async with uow:
            await finish_step(uow, event, "intro_status", data={"intro": f"Hello #{len(calls)}"})

    return handle


async def dlq_messages(runtime: Runtime, topology: Report) -> list[dict[str, Any]]:
    return await receive_all(runtime.sqs, topology.dlq_urls[QUEUE.name], wait=1)


async def queue_is_empty(runtime: Runtime) -> bool:
    attributes = (
        await runtime.sqs.get_queue_attributes(
            QueueUrl=await runtime.queue_url(QUEUE),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
    )["Attributes"]
    return attributes == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }


async def set_visibility_timeout(runtime: Runtime, seconds: int) -> None:
    await runtime.sqs.set_queue_attributes(
        QueueUrl=await runtime.queue_url(QUEUE), Attributes={"VisibilityTimeout": str(seconds)}
    )


async def test_handles_a_published_event_and_deletes_it(runtime: Runtime) -> None:
    event = await started_campaign(runtime)
    calls: list[StatusChange] = []
    await runtime.publisher.publish(event)

    async with consuming(runtime, intro_handler(calls)):
        await eventually(lambda: queue_is_empty(runtime))
        await eventually(lambda: _intro_status_is(runtime, event.campaign_id, SubStatus.READY))

    assert calls == [event]
    assert (await load(runtime.sessions, event.campaign_id)).intro == "Hello #1"


async def _intro_status_is(runtime: Runtime, campaign_id: int, status: SubStatus) -> bool:
    return (await load(runtime.sessions, campaign_id)).intro_status is status


async def test_sns_enveloped_body_is_accepted(runtime: Runtime) -> None:
    event = await started_campaign(runtime)
    envelope = json.loads((EVENTS / "sns_envelope.json").read_text())
    envelope["Message"] = event.model_dump_json()
    calls: list[StatusChange] = []
    await send(runtime, json.dumps(envelope))

    async with consuming(runtime, intro_handler(calls)):
        await eventually(lambda: _intro_status_is(runtime, event.campaign_id, SubStatus.READY))

    assert calls == [event]


async def test_duplicate_delivery_changes_nothing(runtime: Runtime) -> None:
    """The same event delivered twice, even to concurrent handlers, takes effect once."""
    event = await started_campaign(runtime)
    calls: list[StatusChange] = []

    async def handle(event: StatusChange, uow: SqlUnitOfWork) -> None:
        calls.append(event)
        email = f"x{len(calls)}@e.example"  # a different row per delivery: only one may land
        await asyncio.sleep(0.3)  # the deliveries are in flight together
        async with uow:
            uow.session.add(Recipient(campaign_id=event.campaign_id, email=email))
            await uow.commit()

    for _ in range(3):
        await send(runtime, event.model_dump_json())

    async with consuming(runtime, handle):
        await eventually(lambda: queue_is_empty(runtime))

    async with runtime.sessions() as session:
        added = await session.scalar(
            select(func.count()).select_from(Recipient).where(Recipient.email.like("x%"))
        )
        markers = await session.scalar(select(func.count()).select_from(ProcessedEvent))
    assert added == 1
    assert markers == 1
    assert 1 <= len(calls) <= 3


async def test_poison_and_foreign_messages_go_to_the_dlq_with_a_reason(
    runtime: Runtime, topology: Report
) -> None:
    calls: list[StatusChange] = []
    raw = json.loads((EVENTS / "raw_status_change.json").read_text())
    await send(runtime, "hello from the AWS console", note="typed by hand")
    await send(runtime, json.dumps(raw | {"event_type": "CAMPAIGN_DELETED"}))
    await send(runtime, json.dumps(raw | {"to_status": "FETCHING"}))

    async with consuming(runtime, intro_handler(calls)):
        await eventually(lambda: queue_is_empty(runtime))

    dead = await dlq_messages(runtime, topology)
    reasons = sorted(m["MessageAttributes"]["failure_reason"]["StringValue"] for m in dead)
    assert len(reasons) == 3
    assert reasons[0].startswith("invalid event: to_status")
    assert reasons[1].startswith("message body is not JSON")
    assert reasons[2] == "unknown event_type 'CAMPAIGN_DELETED'"
    by_body = {m["Body"]: m for m in dead}
    console = by_body["hello from the AWS console"]  # the original body, untouched
    assert console["MessageAttributes"]["note"]["StringValue"] == "typed by hand"
    assert console["MessageAttributes"]["source_queue"]["StringValue"] == runtime.names.queue(QUEUE)
    assert calls == []


async def test_rejected_event_is_dead_lettered_at_once(runtime: Runtime, topology: Report) -> None:
    event = await started_campaign(runtime)

    async def handle(event: StatusChange, uow: SqlUnitOfWork) -> None:
        raise Reject("campaign has no recipients")

    await send(runtime, event.model_dump_json())
    async with consuming(runtime, handle):
        await eventually(lambda: queue_is_empty(runtime))

    (dead,) = await dlq_messages(runtime, topology)
    reason = dead["MessageAttributes"]["failure_reason"]["StringValue"]
    assert reason == "rejected: campaign has no recipients"


async def test_a_status_change_for_a_missing_campaign_is_dead_lettered_with_the_reason(
    runtime: Runtime, topology: Report
) -> None:
    """As `aws sns publish` with a mistyped campaign_id would deliver it: the intro's real step."""
    event = await started_campaign(runtime)
    typo = event.model_copy(update={"campaign_id": 987654321})
    step = intro_step(SampleDataProvider(), TemplateWriter())

    await send(runtime, typo.model_dump_json())
    async with consuming(runtime, step.handle):
        await eventually(lambda: queue_is_empty(runtime))

    (dead,) = await dlq_messages(runtime, topology)
    reason = dead["MessageAttributes"]["failure_reason"]["StringValue"]
    assert reason == "rejected: campaign 987654321 does not exist"
    assert json.loads(dead["Body"])["campaign_id"] == 987654321
    assert (await load(runtime.sessions, event.campaign_id)).intro_status is (
        SubStatus.WAITING_FOR_DATA
    )


async def test_a_handler_that_always_fails_ends_in_the_dlq_after_max_receives(
    runtime: Runtime, topology: Report
) -> None:
    event = await started_campaign(runtime)
    attempts: list[int] = []

    async def handle(event: StatusChange, uow: SqlUnitOfWork) -> None:
        attempts.append(1)
        raise ConnectionError("provider unreachable")

    await send(runtime, event.model_dump_json())
    async with consuming(runtime, handle, backoff_base_seconds=0):
        await eventually(lambda: queue_is_empty(runtime))

    assert len(attempts) == QUEUE.max_receive_count
    (dead,) = await dlq_messages(runtime, topology)
    reason = dead["MessageAttributes"]["failure_reason"]["StringValue"]
    last_error = "ConnectionError: provider unreachable"
    assert reason == f"failed {QUEUE.max_receive_count} times; last error {last_error}"
    assert (
        await load(runtime.sessions, event.campaign_id)
    ).intro_status is SubStatus.WAITING_FOR_DATA


async def test_a_transient_failure_is_retried_after_backoff_then_succeeds(runtime: Runtime) -> None:
    event = await started_campaign(runtime)
    calls: list[StatusChange] = []
    succeed = intro_handler(calls)
    moments: list[float] = []

    async def handle(event: StatusChange, uow: SqlUnitOfWork) -> None:
        moments.append(time.monotonic())
        if len(moments) == 1:
            raise TimeoutError("LLM timed out")
        await succeed(event, uow)

    await send(runtime, event.model_dump_json())
    async with consuming(runtime, handle, backoff_base_seconds=1):
        await eventually(lambda: _intro_status_is(runtime, event.campaign_id, SubStatus.READY))

    assert len(moments) == 2
    assert moments[1] - moments[0] >= 0.9


async def test_a_crashed_worker_s_message_comes_back_after_the_visibility_timeout(
    runtime: Runtime,
) -> None:
    """A worker took the message and died without a word: the timeout, not a status, frees it."""
    event = await started_campaign(runtime)
    await set_visibility_timeout(runtime, 2)
    await send(runtime, event.model_dump_json())
    taken = await runtime.sqs.receive_message(
        QueueUrl=await runtime.queue_url(QUEUE), WaitTimeSeconds=1
    )
    assert len(taken["Messages"]) == 1  # the dead worker holds it; nothing deletes it
    crashed_at = time.monotonic()
    calls: list[StatusChange] = []

    async with consuming(runtime, intro_handler(calls)):
        await eventually(lambda: _intro_status_is(runtime, event.campaign_id, SubStatus.READY))

    assert calls == [event]
    assert time.monotonic() - crashed_at >= 1.9


async def test_heartbeat_keeps_a_long_handler_s_message_invisible(runtime: Runtime) -> None:
    event = await started_campaign(runtime)
    await set_visibility_timeout(runtime, 2)
    calls: list[StatusChange] = []
    finish = intro_handler(calls)
    seen_by_others: list[Any] = []

    async def slow(event: StatusChange, uow: SqlUnitOfWork) -> None:
        for _ in range(10):  # 5 s: more than twice the visibility timeout
            await asyncio.sleep(0.5)
            response = await runtime.sqs.receive_message(
                QueueUrl=await runtime.queue_url(QUEUE), WaitTimeSeconds=0
            )
            seen_by_others.extend(response.get("Messages", []))
        await finish(event, uow)

    await send(runtime, event.model_dump_json())
    async with consuming(runtime, slow):
        await eventually(lambda: _intro_status_is(runtime, event.campaign_id, SubStatus.READY))

    assert seen_by_others == []
    assert len(calls) == 1


async def test_shutdown_releases_unfinished_messages_at_once(runtime: Runtime) -> None:
    event = await started_campaign(runtime)
    started = asyncio.Event()

    async def stuck(event: StatusChange, uow: SqlUnitOfWork) -> None:
        started.set()
        await asyncio.sleep(3600)

    await send(runtime, event.model_dump_json())
    async with consuming(runtime, stuck, shutdown_grace_seconds=0.5):
        await asyncio.wait_for(started.wait(), timeout=20)
    # The queue's visibility timeout is minutes long; the message must be back already.
    again = await runtime.sqs.receive_message(
        QueueUrl=await runtime.queue_url(QUEUE), WaitTimeSeconds=1
    )

    assert [json.loads(m["Body"])["event_id"] for m in again.get("Messages", [])] == [
        str(event.event_id)
    ]


async def test_the_transition_made_by_a_handler_is_published(
    runtime: Runtime, topology: Report
) -> None:
    """Set the last data step in a handler: its STATUS_CHANGE reaches the home-report queue."""
    event = await started_campaign(runtime)
    async with runtime.sessions() as session:
        await session.execute(
            update(Campaign)
            .where(Campaign.id == event.campaign_id)
            .values(**{step: SubStatus.READY for step in DATA_STEPS if step != "intro_status"})
        )
        await session.commit()
    await send(runtime, event.model_dump_json())

    async with consuming(runtime, intro_handler([])):
        await eventually(lambda: queue_is_empty(runtime))

    (message,) = await receive_all(runtime.sqs, topology.queue_urls["home-report"], wait=1)
    moved = StatusChange.model_validate_json(message["Body"])
    assert (moved.from_status, moved.to_status) == (S.WAITING_FOR_DATA, S.WAITING_FOR_HOME_ANALYSIS)
    assert [
        r.published_at is not None for r in await history(runtime.sessions, event.campaign_id)
    ] == [
        True,
        True,
    ]


async def test_a_sub_second_retry_waits_a_whole_second_not_zero(
    runtime: Runtime, topology: Report
) -> None:
    """Found by the chaos run: Retry(0.4) made the message visible at once (int(0.4) == 0), so a
    batch waiting out its cooldown was received again and again until SQS dead-lettered it."""
    event = await started_campaign(runtime)
    moments: list[float] = []

    async def not_yet(event: StatusChange, uow: SqlUnitOfWork) -> None:
        moments.append(time.monotonic())
        if len(moments) < 3:
            raise Retry("cooldown not over", delay=0.4)

    await send(runtime, event.model_dump_json())
    async with consuming(runtime, not_yet, wait_time_seconds=0):  # short polls: no long-poll lag
        await eventually(lambda: queue_is_empty(runtime), within=10)

    assert len(moments) == 3
    assert all(later - earlier >= 0.9 for earlier, later in itertools.pairwise(moments))
    assert await dlq_messages(runtime, topology) == []
