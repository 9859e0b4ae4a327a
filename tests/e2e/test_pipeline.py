"""The pipeline end to end: every service its own OS process, moto server, the test database.

Campaigns go from DORMANT to sent and back to DORMANT. Along the way a service is SIGKILLed
mid-run and restarted, and events are delivered twice; the run must still complete with every
sub-status, STATUS_CHANGE and email as expected, and no recipient mailed twice.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from infra.provision import Report
from shared.adapters.db.models import Campaign, Delivery, Email, OutboxEvent, Recipient
from shared.adapters.topology import TOPOLOGY
from shared.bootstrap import Runtime
from shared.config import Settings
from shared.devtools.demo.processes import PIPELINE, ServiceProcess, service_environment
from shared.devtools.demo.seed import DemoCampaign, seed
from shared.devtools.emulator import moto_sent_emails
from shared.devtools.ses_feedback import FeedbackSimulator
from shared.domain.statuses import CampaignStatus as S
from shared.domain.statuses import DeliveryStatus, SubStatus
from shared.domain.transitions import SUB_STATUS_COLUMNS
from shared.domain.unsubscribe import read_token
from shared.service_layer.operations import apply_batch
from tests.chaos.invariants import EXPECTED_PATHS
from tests.support import eventually, queues_drained

PATHS = {kind: EXPECTED_PATHS[kind] for kind in ("standard", "no-address", "approval")}


@pytest.fixture
def pipeline_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "scheduler_interval_seconds": 0.5,
            "outbox_grace_seconds": 2,
            # A claim the SIGKILL cuts waits this long for SES's Send event (played by the
            # simulator, through the feedback service) before it is resent.
            "send_claim_timeout_seconds": 15,
            "send_batch_size": 2,
            "send_delay_ms": 0,
            "send_cooldown_seconds": 0,
            "shutdown_grace_seconds": 5,
        }
    )


@pytest.fixture
def services(
    pipeline_settings: Settings, topology: Report, tmp_path: Path
) -> Iterator[dict[str, ServiceProcess]]:
    env = service_environment(pipeline_settings)
    processes = {name: ServiceProcess(name, env, tmp_path / "logs") for name in PIPELINE}
    yield processes
    for process in processes.values():
        process.stop(timeout=15)
    for process in processes.values():  # on failure, the logs say what each service did
        if process.log_path.exists():
            print(f"--- {process.name}\n{process.log_path.read_text()[-4000:]}")


@pytest.fixture
async def e2e_runtime(runtime: Runtime, topology: Report) -> AsyncIterator[Runtime]:
    # A short visibility timeout on the sender's queue, so a killed sender's message returns fast.
    await runtime.sqs.set_queue_attributes(
        QueueUrl=topology.queue_urls["email-sender"], Attributes={"VisibilityTimeout": "4"}
    )
    yield runtime


async def _count(runtime: Runtime, status: S) -> int:
    async with runtime.sessions() as session:
        return int(
            await session.scalar(select(func.count()).where(Campaign.campaign_status == status))
            or 0
        )


async def _sent(runtime: Runtime) -> int:
    async with runtime.sessions() as session:
        return int(
            await session.scalar(select(func.count()).where(Delivery.status == DeliveryStatus.SENT))
            or 0
        )


async def _operator_approves(runtime: Runtime, stop: asyncio.Event) -> None:
    while not stop.is_set():
        async with runtime.sessions() as session:
            waiting = list(
                await session.scalars(
                    select(Campaign.id).where(
                        Campaign.campaign_status == S.WAITING_FOR_MANUAL_APPROVAL
                    )
                )
            )
        if waiting:
            await apply_batch(runtime.unit_of_work(), "approve", waiting)
        await asyncio.sleep(0.3)


async def _all_back_to_dormant(runtime: Runtime, count: int) -> bool:
    async with runtime.sessions() as session:
        done = await session.scalar(
            select(func.count()).where(Campaign.campaign_status == S.DORMANT, Campaign.cycle == 1)
        )
    return done == count


async def test_campaigns_run_dormant_to_sent_through_crashes_and_duplicates(
    e2e_runtime: Runtime,
    services: dict[str, ServiceProcess],
    pipeline_settings: Settings,
    topology: Report,
) -> None:
    runtime = e2e_runtime
    simulator = FeedbackSimulator(
        pipeline_settings.aws_endpoint_url or "", runtime.sns, topology.feedback_topic_arn
    )
    stop_simulator = asyncio.Event()
    ses_events = asyncio.create_task(simulator.run(stop_simulator))
    demo = await seed(runtime.sessions, count=8, recipients=6)
    kinds = {c.id: c.kind for c in demo}
    async with runtime.sessions() as session:
        first_due = {c.id: c.next_send_datetime for c in await session.scalars(select(Campaign))}

    # Everything but the sender; kill the data fetcher as soon as work reaches it.
    for name, process in services.items():
        if name != "email_sender":
            process.start()
    await eventually(lambda: _count_nonzero(runtime, S.WAITING_FOR_DATA), within=60)
    services["data_fetcher"].kill()
    await asyncio.sleep(0.5)
    services["data_fetcher"].start()

    stop_operator = asyncio.Event()
    operator = asyncio.create_task(_operator_approves(runtime, stop_operator))
    try:
        await eventually(lambda: _count_is(runtime, S.READY_TO_SEND_EMAIL, len(demo)), within=90)
        services["email_sender"].start()
        await eventually(lambda: _sent_at_least(runtime, 1), within=60, interval=0.01)
        services["email_sender"].kill()  # mid-send: some recipients done, the rest not
        await asyncio.sleep(0.5)
        services["email_sender"].start()
        await eventually(lambda: _all_back_to_dormant(runtime, len(demo)), within=120)

        sent_before = moto_sent_emails(pipeline_settings.aws_endpoint_url or "")
        await _deliver_again(runtime, demo)
        urls = [await runtime.queue_url(spec) for spec in TOPOLOGY.queues]
        await eventually(lambda: queues_drained(runtime.sqs, urls), within=30)  # all dropped
    finally:
        stop_operator.set()
        stop_simulator.set()
        await asyncio.gather(operator, ses_events)

    await _check_paths(runtime, kinds)
    await _check_cycle_reset(runtime, first_due)
    await _check_emails(runtime, pipeline_settings, demo)
    assert moto_sent_emails(pipeline_settings.aws_endpoint_url or "") == sent_before
    for name, process in services.items():
        assert process.stop() == 0, f"{name} did not shut down cleanly on SIGTERM"


async def _count_nonzero(runtime: Runtime, status: S) -> bool:
    return await _count(runtime, status) > 0


async def _count_is(runtime: Runtime, status: S, expected: int) -> bool:
    return await _count(runtime, status) == expected


async def _sent_at_least(runtime: Runtime, expected: int) -> bool:
    return await _sent(runtime) >= expected


async def _deliver_again(runtime: Runtime, demo: list[DemoCampaign]) -> None:
    """Send every event of the first cycle to its queues again, as at-least-once delivery may."""
    async with runtime.sessions() as session:
        events = list(await session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))
    assert len(events) >= len(demo) * 6
    for event in events:
        if event.queue is not None:  # a SEND_BATCH, straight to its queue
            names = {event.queue}
        else:
            names = TOPOLOGY.receivers_of(S(event.to_status))
        for name in names:
            await runtime.sqs.send_message(
                QueueUrl=await runtime.queue_url(TOPOLOGY.queue(name)), MessageBody=event.payload
            )


async def _check_paths(runtime: Runtime, kinds: dict[int, str]) -> None:
    async with runtime.sessions() as session:
        for campaign_id, kind in kinds.items():
            rows = list(
                await session.scalars(
                    select(OutboxEvent)
                    .where(
                        OutboxEvent.campaign_id == campaign_id,
                        OutboxEvent.event_type == "STATUS_CHANGE",
                    )
                    .order_by(OutboxEvent.id)
                )
            )
            assert [r.to_status for r in rows] == PATHS[kind], campaign_id
            assert all(r.published_at is not None for r in rows)
            assert {r.cycle for r in rows} == {1}
            emails = await session.scalar(
                select(func.count()).where(Email.campaign_id == campaign_id)
            )
            assert emails == 1


async def _check_cycle_reset(runtime: Runtime, first_due: dict[int, object]) -> None:
    async with runtime.sessions() as session:
        for campaign in await session.scalars(select(Campaign)):
            assert campaign.campaign_status is S.DORMANT
            assert campaign.cycle == 1
            assert all(getattr(campaign, c) is SubStatus.DORMANT for c in SUB_STATUS_COLUMNS)
            assert campaign.next_send_datetime == first_due[campaign.id] + timedelta(days=30)
            if campaign.no_address_newsletter:
                assert campaign.home_report_analysis is None and campaign.property_data is None
            else:
                assert campaign.home_report_analysis and campaign.property_data
            assert campaign.intro and campaign.local_market_data and campaign.mortgage_rate


async def _check_emails(runtime: Runtime, settings: Settings, demo: list[DemoCampaign]) -> None:
    sent = moto_sent_emails(settings.aws_endpoint_url or "")
    per_address = Counter(address for m in sent for address in m["destinations"]["ToAddresses"])
    assert per_address and max(per_address.values()) == 1, "a recipient was mailed twice"
    async with runtime.sessions() as session:
        recipients = list(await session.scalars(select(Recipient)))
        deliveries = {d.recipient_id: d for d in await session.scalars(select(Delivery))}
    for recipient in recipients:
        delivery = deliveries.get(recipient.id)
        if recipient.unsubscribed_at is not None:
            assert delivery is None and per_address[recipient.email] == 0
            continue
        assert delivery is not None
        # Exactly once, SIGKILL or not: a claim the kill caught between claim and record was
        # settled by SES's Send event if SES had it, and resent if not.
        assert delivery.status is DeliveryStatus.SENT, (recipient.email, delivery.error)
        assert per_address[recipient.email] == 1
        assert delivery.provider_message_id in {m["id"] for m in sent}
    assert sum(per_address.values()) == len(deliveries)
    for message in sent:  # each copy carries its own recipient's signed unsubscribe link
        tokens = set(re.findall(r"/unsubscribe\?token=([\w.\-]+)", message["body"]))
        assert len(tokens) == 1
        who = read_token(settings.unsubscribe_secret.get_secret_value(), tokens.pop())
        recipient = next(r for r in recipients if r.id == who.recipient_id)
        assert message["destinations"]["ToAddresses"] == [recipient.email]
    assert {json.dumps(m["source"]) for m in sent} == {json.dumps(settings.sender_email)}
