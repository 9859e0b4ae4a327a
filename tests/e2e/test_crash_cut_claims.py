"""A sender SIGKILLed between claiming a recipient and recording the result: SES's own record
decides. SES (a query-API stand-in that publishes its Send events to the feedback topic, as a
configuration set does) either accepted the email, and its Send event makes the claim SENT, or
had not, and the claim is sent again once the bound passes. Nobody gets two, nobody none."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from infra.provision import Report
from services.email_creation.app import EMAIL_STEP
from shared.adapters.db.models import Delivery
from shared.adapters.topology import TOPOLOGY
from shared.bootstrap import Runtime
from shared.config import Settings
from shared.devtools.demo.processes import ServiceProcess, service_environment
from shared.devtools.ses_feedback import message_tags, ses_event
from shared.domain.sends import SENDER_QUEUE
from shared.domain.statuses import CampaignStatus as S
from shared.domain.statuses import DeliveryStatus as D
from shared.domain.statuses import SendStatus
from shared.service_layer import sends
from tests.factories import load, ready_to_create
from tests.standins.ses_query import SesStandin, ses_standin
from tests.support import eventually


@pytest.fixture
async def ses(runtime: Runtime, topology: Report) -> AsyncIterator[SesStandin]:
    async with ses_standin() as standin:

        async def send_event(message_id: str, recipient: str, headers: dict[str, str]) -> None:
            document = ses_event("Send", message_id, recipient, tags=message_tags(headers))
            await runtime.sns.publish(
                TopicArn=topology.feedback_topic_arn, Message=json.dumps(document)
            )

        standin.on_accept = send_event
        yield standin


def _environment(settings: Settings, ses: SesStandin, claim_timeout: float) -> dict[str, str]:
    return service_environment(
        settings.model_copy(
            update={
                "send_batch_size": 10,
                "send_delay_ms": 0,
                "send_cooldown_seconds": 1,
                "send_claim_timeout_seconds": claim_timeout,
            }
        ),
        AWS_ENDPOINT_URL_SES=ses.url,
    )


async def _statuses(runtime: Runtime) -> dict[str, D]:
    async with runtime.sessions() as session:
        rows = (await session.execute(select(Delivery.email, Delivery.status))).all()
    return {email: status for email, status in rows}


async def _claimed(runtime: Runtime) -> bool:
    return D.SENDING in (await _statuses(runtime)).values()


async def _completed(runtime: Runtime, campaign_id: int) -> bool:
    async with runtime.sessions() as session:
        send = await sends.find(session, campaign_id, 1)
        return send is not None and send.status is SendStatus.COMPLETED


async def _crash_mid_email(
    runtime: Runtime, settings: Settings, ses: SesStandin, tmp_path: Path, claim_timeout: float
) -> tuple[int, ServiceProcess]:
    """Start a send of two; SIGKILL the sender while SES holds the first email's call.

    The batch's message stays invisible after the kill until its visibility timeout, 3 s here,
    and then goes to the next sender, which claims the batch again as the same message.
    """
    queue = await runtime.queue_url(TOPOLOGY.queue(SENDER_QUEUE))
    await runtime.sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "3"})
    event = await ready_to_create(runtime, recipients=2)
    await EMAIL_STEP.handle(event, runtime.unit_of_work("email-creation", event.event_id))
    env = _environment(settings, ses, claim_timeout)
    sender = ServiceProcess("email_sender", env, tmp_path, replica=1)
    sender.start()
    await eventually(lambda: _claimed(runtime), within=60, interval=0.05)
    await eventually(lambda: _arrived(ses), within=30, interval=0.05)  # SES is holding the call
    sender.kill()
    return event.campaign_id, ServiceProcess("email_sender", env, tmp_path, replica=2)


async def test_a_claim_ses_accepted_is_settled_by_its_send_event_and_not_resent(
    runtime: Runtime, settings: Settings, ses: SesStandin, tmp_path: Path
) -> None:
    ses.hold_after_accepting = 30  # SES has the first email; the sender dies before hearing so
    feedback = ServiceProcess("feedback", service_environment(settings), tmp_path)
    feedback.start()
    try:
        campaign_id, sender = await _crash_mid_email(runtime, settings, ses, tmp_path, 600)
        await eventually(lambda: _has_sent(runtime, 1), within=30)  # the Send event's work
        ses.hold_after_accepting = 0
        sender.start()
        await eventually(lambda: _completed(runtime, campaign_id), within=60)
    finally:
        for process in (feedback, sender):
            process.stop()

    assert Counter(ses.recipients).most_common(1)[0][1] == 1, ses.recipients
    assert len(ses.recipients) == 2
    assert set((await _statuses(runtime)).values()) == {D.SENT}
    assert (await load(runtime.sessions, campaign_id)).campaign_status is S.DORMANT


async def test_a_claim_ses_never_accepted_is_resent_once_the_bound_passes(
    runtime: Runtime, settings: Settings, ses: SesStandin, tmp_path: Path
) -> None:
    ses.hold_before_accepting = 30  # the sender dies before SES accepted anything
    campaign_id, sender = await _crash_mid_email(runtime, settings, ses, tmp_path, 2)
    ses.hold_before_accepting = 0
    try:
        sender.start()
        await eventually(lambda: _completed(runtime, campaign_id), within=60)
    finally:
        sender.stop()

    assert sorted(Counter(ses.recipients).values()) == [1, 1], ses.recipients
    assert set((await _statuses(runtime)).values()) == {D.SENT}


async def _has_sent(runtime: Runtime, count: int) -> bool:
    return list((await _statuses(runtime)).values()).count(D.SENT) >= count


async def _arrived(ses: SesStandin) -> bool:
    return ses.arrived >= 1
