"""SES feedback on the database and the emulator: published to the feedback topic as SES does,
consumed by the feedback service's consumer, applied exactly once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select, update

from infra.provision import Report
from services.email_creation.app import EMAIL_STEP
from services.email_sender.app import handle_batch, handle_ready
from services.email_sender.delivery import SendConfig
from services.feedback.app import handle_feedback
from shared.adapters.aws import async_client
from shared.adapters.db.models import Delivery, FeedbackRecord, Recipient, Send, Suppression
from shared.adapters.providers.mailer import SesMailer
from shared.adapters.topology import FEEDBACK_QUEUE, TOPOLOGY
from shared.bootstrap import Runtime
from shared.devtools.emulator import moto_sent_emails
from shared.devtools.ses_feedback import (
    BOUNCE_ADDRESS,
    COMPLAINT_ADDRESS,
    FeedbackSimulator,
    ses_event,
)
from shared.domain.events import SendBatch, StatusChange
from shared.domain.feedback import SesFeedback, SuppressionReason
from shared.domain.sends import Guard
from shared.domain.statuses import CampaignStatus, SendStatus, SubStatus
from shared.domain.statuses import DeliveryStatus as D
from shared.domain.transitions import DATA_STEPS, Trigger
from shared.service_layer import pausing, sends
from shared.service_layer.feedback import FeedbackPolicy
from shared.service_layer.transitions import fire
from tests.factories import history, ready_to_create, set_ready
from tests.support import eventually, queues_drained, receive_all

CONFIG = SendConfig("https://news.example", "a-test-secret-of-some-length", retry_base_seconds=0)
ALL_AT_ONCE = sends.Controls(batch_size=50, delay_ms=0, cooldown_seconds=0)
POLICY = FeedbackPolicy(transient_bounce_limit=2, guard=Guard(min_sent=1))


@pytest.fixture
async def ses(runtime: Runtime) -> AsyncIterator[Any]:
    async with async_client(runtime.aws, "ses", runtime.settings) as client:
        yield client


@asynccontextmanager
async def feedback_consumer(
    runtime: Runtime, policy: FeedbackPolicy = POLICY
) -> AsyncIterator[None]:
    async def handler(event: SesFeedback, uow: Any) -> None:
        await handle_feedback(event, uow, policy=policy)

    consumer = await runtime.consumer(TOPOLOGY.queue(FEEDBACK_QUEUE), {SesFeedback: handler})
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task


async def publish(runtime: Runtime, topology: Report, *documents: dict[str, Any]) -> None:
    """As SES does: each notification a JSON message on the feedback topic."""
    for document in documents:
        await runtime.sns.publish(
            TopicArn=topology.feedback_topic_arn, Message=json.dumps(document)
        )


async def drained(runtime: Runtime, topology: Report) -> None:
    url = topology.queue_urls[FEEDBACK_QUEUE]
    await eventually(lambda: queues_drained(runtime.sqs, [url]))


async def send_to(
    runtime: Runtime, topology: Report, ses: Any, *emails: str, cycle_of: int | None = None
) -> Send:
    """A campaign whose recipients are `emails`, sent in one batch through the emulator's SES."""
    event = await ready_to_create(runtime, recipients=0)
    async with runtime.sessions() as session:
        session.add_all(Recipient(campaign_id=event.campaign_id, email=e) for e in emails)
        await session.commit()
    return await run_send(runtime, topology, ses, event.campaign_id, event)


async def run_send(
    runtime: Runtime, topology: Report, ses: Any, campaign_id: int, created: StatusChange
) -> Send:
    await EMAIL_STEP.handle(created, runtime.unit_of_work("email-creation", created.event_id))
    ready = StatusChange.model_validate_json(
        (await history(runtime.sessions, campaign_id))[-1].payload
    )
    await handle_ready(
        ready, runtime.unit_of_work("email-sender", ready.event_id), controls=ALL_AT_ONCE
    )
    await run_queued_batch(runtime, topology, ses)
    async with runtime.sessions() as session:
        send = await session.scalar(
            select(Send).where(Send.campaign_id == campaign_id, Send.cycle == created.cycle)
        )
    assert send is not None
    return send


async def run_queued_batch(runtime: Runtime, topology: Report, ses: Any) -> None:
    """The one SEND_BATCH waiting on the sender's queue, handled through the emulator's SES."""
    messages = await receive_all(runtime.sqs, topology.queue_urls["email-sender"], rounds=5)
    (batch,) = [
        SendBatch.model_validate_json(m["Body"])
        for m in messages
        if json.loads(m["Body"])["event_type"] == "SEND_BATCH"
    ]
    await handle_batch(
        batch,
        runtime.unit_of_work("email-sender", batch.event_id),
        sessions=runtime.sessions,
        mailer=SesMailer(ses, runtime.settings.sender_email),
        config=CONFIG,
    )


async def deliveries(runtime: Runtime, send_id: int) -> dict[str, Delivery]:
    async with runtime.sessions() as session:
        rows = await session.scalars(select(Delivery).where(Delivery.send_id == send_id))
        return {d.email: d for d in rows}


async def suppressed(runtime: Runtime) -> dict[str, SuppressionReason]:
    async with runtime.sessions() as session:
        rows = await session.scalars(select(Suppression).where(Suppression.lifted_at.is_(None)))
        return {s.email: s.reason for s in rows}


def tagged(delivery: Delivery) -> dict[str, str]:
    return {
        "campaign": str(delivery.campaign_id),
        "cycle": str(delivery.cycle),
        "delivery": str(delivery.id),
    }


async def test_a_hard_bounce_and_a_complaint_suppress_and_the_next_cycle_skips_them(
    runtime: Runtime, topology: Report, ses: Any
) -> None:
    send = await send_to(runtime, topology, ses, "gone@example.com", "angry@example.com", "ok@x.io")
    sent = await deliveries(runtime, send.id)
    assert {d.status for d in sent.values()} == {D.SENT}
    gone, angry = sent["gone@example.com"], sent["angry@example.com"]

    async with feedback_consumer(runtime):
        await publish(
            runtime,
            topology,
            ses_event("Bounce", gone.provider_message_id or "", "Gone@Example.com"),
            ses_event(
                "Complaint", angry.provider_message_id or "", angry.email, tags=tagged(angry)
            ),
            ses_event("Delivery", "unused", "ok@x.io", tags=tagged(sent["ok@x.io"])),
        )
        await eventually(lambda: _has(runtime, FeedbackRecord, 3))
        await drained(runtime, topology)

    assert await suppressed(runtime) == {
        "gone@example.com": SuppressionReason.BOUNCE,
        "angry@example.com": SuppressionReason.COMPLAINT,
    }
    async with runtime.sessions() as session:
        counted = await session.get(Send, send.id)
    assert counted is not None
    assert (counted.bounced_count, counted.complained_count) == (1, 1)

    next_cycle = await next_send(runtime, topology, ses, send)
    skipped = await deliveries(runtime, next_cycle.id)
    assert skipped["gone@example.com"].status is D.SKIPPED
    assert skipped["gone@example.com"].error == "suppressed: the address bounced permanently"
    assert skipped["angry@example.com"].error == (
        "suppressed: the recipient complained (marked as spam)"
    )
    assert skipped["ok@x.io"].status is D.SENT
    mailed_twice = [
        a
        for m in moto_sent_emails(runtime.settings.aws_endpoint_url or "")
        for a in m["destinations"]["ToAddresses"]
    ]
    assert sorted(mailed_twice) == sorted(
        ["gone@example.com", "angry@example.com", "ok@x.io", "ok@x.io"]
    )
    assert (next_cycle.skipped_count, next_cycle.sent_count) == (2, 1)


async def next_send(runtime: Runtime, topology: Report, ses: Any, previous: Send) -> Send:
    """The campaign's next cycle, scheduled (as if its date had come), its data ready, sent."""
    await set_ready(runtime, previous.campaign_id, next_send_datetime=datetime(2026, 1, 1))
    async with runtime.unit_of_work() as uow:
        scheduled = await fire(uow, previous.campaign_id, Trigger.SCHEDULE)
        await uow.commit()
    await set_ready(
        runtime,
        previous.campaign_id,
        *DATA_STEPS,
        "home_report_analysis_status",
        campaign_status=CampaignStatus.READY_TO_CREATE_EMAIL,
        email_status=SubStatus.WAITING_FOR_DATA,
    )
    created = scheduled.model_copy(update={"to_status": CampaignStatus.READY_TO_CREATE_EMAIL})
    return await run_send(runtime, topology, ses, previous.campaign_id, created)


async def _has(runtime: Runtime, model: Any, rows: int) -> bool:
    async with runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0) == rows


async def test_duplicates_change_nothing_and_unknown_or_malformed_go_to_the_dlq(
    runtime: Runtime, topology: Report, ses: Any
) -> None:
    send = await send_to(runtime, topology, ses, "gone@example.com")
    gone = (await deliveries(runtime, send.id))["gone@example.com"]
    bounce = ses_event("Bounce", gone.provider_message_id or "", gone.email, tags=tagged(gone))

    async with feedback_consumer(runtime):
        await publish(runtime, topology, bounce, bounce)
        await runtime.sqs.send_message(  # typed by hand into the queue
            QueueUrl=topology.queue_urls[FEEDBACK_QUEUE], MessageBody='{"eventType": "Bounce"}'
        )
        await publish(runtime, topology, ses_event("Bounce", "no-such-message", "who@x.io"))
        # a tag that names our delivery, on a notification about someone else: not ours
        await publish(
            runtime, topology, ses_event("Bounce", "other", "who@x.io", tags=tagged(gone))
        )
        await drained(runtime, topology)

    async with runtime.sessions() as session:
        records = await session.scalar(select(func.count()).select_from(FeedbackRecord))
        counted = await session.get(Send, send.id)
    assert records == 1 and counted is not None and counted.bounced_count == 1
    dead = await receive_all(runtime.sqs, topology.dlq_urls[FEEDBACK_QUEUE], wait=1)
    reasons = sorted(m["MessageAttributes"]["failure_reason"]["StringValue"] for m in dead)
    assert reasons == [
        "not a dripr event: no 'event_type'",
        "rejected: no delivery has SES message id 'no-such-message'",
        f"rejected: no delivery has SES message id 'other' or delivery tag {gone.id}",
    ]


async def test_soft_bounces_suppress_only_after_the_limit_in_a_row(
    runtime: Runtime, topology: Report, ses: Any
) -> None:
    send = await send_to(runtime, topology, ses, "full@example.com")
    full = (await deliveries(runtime, send.id))["full@example.com"]

    def soft(n: int) -> dict[str, Any]:
        return ses_event(
            "Bounce",
            full.provider_message_id or "",
            full.email,
            bounce_type="Transient",
            feedback_id=f"soft-{n}",
        )

    async with feedback_consumer(runtime):
        await publish(runtime, topology, soft(1))
        await eventually(lambda: _has(runtime, FeedbackRecord, 1))
        assert await suppressed(runtime) == {}
        await publish(runtime, topology, soft(2))
        await eventually(lambda: _has(runtime, Suppression, 1))

    assert await suppressed(runtime) == {"full@example.com": SuppressionReason.TRANSIENT_BOUNCES}
    async with runtime.sessions() as session:
        counted = await session.get(Send, send.id)
    assert counted is not None and counted.bounced_count == 0  # soft bounces are no bounce rate


async def test_a_cut_claim_becomes_sent_by_its_send_event_and_is_not_resent(
    runtime: Runtime, topology: Report, ses: Any
) -> None:
    event = await ready_to_create(runtime, recipients=2)
    await EMAIL_STEP.handle(event, runtime.unit_of_work("email-creation", event.event_id))
    ready = StatusChange.model_validate_json(
        (await history(runtime.sessions, event.campaign_id))[-1].payload
    )
    await handle_ready(
        ready, runtime.unit_of_work("email-sender", ready.event_id), controls=ALL_AT_ONCE
    )
    async with runtime.sessions() as session:  # a sender killed after SES accepted one email
        cut = await session.scalar(select(Delivery).order_by(Delivery.id).limit(1))
        assert cut is not None
        await session.execute(
            update(Delivery)
            .where(Delivery.id == cut.id)
            .values(status=D.SENDING, updated_at=datetime(2026, 1, 1))
        )
        await session.commit()

    async with feedback_consumer(runtime):
        await publish(runtime, topology, ses_event("Send", "ses-id-1", cut.email, tags=tagged(cut)))
        await drained(runtime, topology)

    settled = (await deliveries(runtime, cut.send_id or 0))[cut.email]
    assert (settled.status, settled.provider_message_id) == (D.SENT, "ses-id-1")
    await run_queued_batch(runtime, topology, ses)
    mailed = [
        a
        for m in moto_sent_emails(runtime.settings.aws_endpoint_url or "")
        for a in m["destinations"]["ToAddresses"]
    ]
    assert cut.email not in mailed and len(mailed) == 1
    async with runtime.sessions() as session:
        done = await session.get(Send, cut.send_id)
    assert done is not None and (done.status, done.sent_count) == (SendStatus.COMPLETED, 2)


async def test_the_guard_pauses_a_running_send_once_and_resume_is_the_operators(
    runtime: Runtime, topology: Report, ses: Any
) -> None:
    send = await send_to(runtime, topology, ses, "a@x.io", "b@x.io", "c@x.io")
    async with runtime.sessions() as session:  # still running: more batches to come
        await session.execute(update(Send).where(Send.id == send.id).values(status="RUNNING"))
        await session.commit()
    sent = await deliveries(runtime, send.id)
    policy = FeedbackPolicy(guard=Guard(bounce_rate=0.3, complaint_rate=0.3, min_sent=3))

    async with feedback_consumer(runtime, policy):
        await publish(
            runtime, topology, ses_event("Bounce", "-", "a@x.io", tags=tagged(sent["a@x.io"]))
        )
        await eventually(lambda: _has(runtime, FeedbackRecord, 1))
        async with runtime.sessions() as session:
            paused_send = await session.get(Send, send.id)
        assert paused_send is not None and paused_send.status is SendStatus.PAUSED
        assert paused_send.status_reason == (
            "bounce rate 33.33% (1 of 3) reached the guard's 30.00%"
        )
        await sends.resume(runtime.unit_of_work(), send.id, actor="ops")
        await publish(
            runtime, topology, ses_event("Complaint", "-", "b@x.io", tags=tagged(sent["b@x.io"]))
        )
        await eventually(lambda: _has(runtime, FeedbackRecord, 2))
        await drained(runtime, topology)

    async with runtime.sessions() as session:
        resumed = await session.get(Send, send.id, populate_existing=True)
    assert resumed is not None and resumed.status is SendStatus.RUNNING
    assert (resumed.bounced_count, resumed.complained_count) == (1, 1)


async def test_moto_s_own_simulator_notification_reaches_the_consumer_through_the_wiring(
    runtime: Runtime, topology: Report, ses: Any
) -> None:
    """An identity whose notifications someone pointed at the feedback topic by hand: moto
    publishes its canned notification there. It arrives; its content is moto's placeholder
    (not even a type), so it is dead-lettered saying so, body untouched, as any malformed
    notification would be."""
    await ses.set_identity_notification_topic(
        Identity="dripr.example", NotificationType="Bounce", SnsTopic=topology.feedback_topic_arn
    )
    await send_to(runtime, topology, ses, BOUNCE_ADDRESS)

    async with feedback_consumer(runtime):
        await eventually(lambda: _dlq_depth(runtime, topology), within=20)

    (dead,) = await receive_all(runtime.sqs, topology.dlq_urls[FEEDBACK_QUEUE], wait=1)
    reason = dead["MessageAttributes"]["failure_reason"]["StringValue"]
    assert reason == "unknown SES notification type 'Bounce, Complaint, or Delivery.'"
    assert json.loads(dead["Body"])["TopicArn"] == topology.feedback_topic_arn


async def _dlq_depth(runtime: Runtime, topology: Report) -> bool:
    attributes = await runtime.sqs.get_queue_attributes(
        QueueUrl=topology.dlq_urls[FEEDBACK_QUEUE], AttributeNames=["ApproximateNumberOfMessages"]
    )
    return attributes["Attributes"]["ApproximateNumberOfMessages"] != "0"


async def test_the_simulator_reports_each_email_s_fate_in_ses_s_format(
    runtime: Runtime, topology: Report, ses: Any
) -> None:
    send = await send_to(runtime, topology, ses, BOUNCE_ADDRESS, COMPLAINT_ADDRESS, "ok@x.io")
    simulator = FeedbackSimulator(
        runtime.settings.aws_endpoint_url or "", runtime.sns, topology.feedback_topic_arn
    )

    async with feedback_consumer(runtime):
        assert await simulator.publish_new() == 6  # a Send and a fate for each
        assert await simulator.publish_new() == 0
        await eventually(lambda: _has(runtime, FeedbackRecord, 3))

    assert await suppressed(runtime) == {
        BOUNCE_ADDRESS: SuppressionReason.BOUNCE,
        COMPLAINT_ADDRESS: SuppressionReason.COMPLAINT,
    }
    assert {d.status for d in (await deliveries(runtime, send.id)).values()} == {D.SENT}


async def test_feedback_keeps_flowing_while_the_pipeline_is_paused(
    runtime: Runtime, topology: Report, ses: Any
) -> None:
    send = await send_to(runtime, topology, ses, "gone@example.com")
    gone = (await deliveries(runtime, send.id))["gone@example.com"]
    async with runtime.sessions() as session:
        await pausing.pause(session, "circuit breaker ses opened: test", by="breaker:ses")
        await session.commit()

    async with feedback_consumer(runtime):
        await publish(runtime, topology, ses_event("Bounce", "-", gone.email, tags=tagged(gone)))
        await eventually(lambda: _has(runtime, Suppression, 1))

    assert await suppressed(runtime) == {"gone@example.com": SuppressionReason.BOUNCE}
