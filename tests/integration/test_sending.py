"""The resumable, rate-controlled send on the database and the emulator server."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from datetime import datetime
from typing import Any

import httpx
import pytest
from botocore.exceptions import EndpointConnectionError
from pydantic import SecretStr
from sqlalchemy import select, update

from infra.provision import Report
from services.control_api.app import create_app
from services.email_creation.app import EMAIL_STEP
from services.email_sender.app import handle_batch, handle_ready
from services.email_sender.delivery import SendConfig
from shared.adapters.aws import async_client, endpoint_unreachable
from shared.adapters.db.models import CircuitBreakerRow, Delivery, Recipient, Send
from shared.adapters.providers.mailer import OutgoingEmail, SesMailer
from shared.bootstrap import Runtime
from shared.consumer.outage import Outage
from shared.consumer.outcomes import Retry
from shared.devtools.emulator import moto_sent_emails
from shared.domain.dependencies import Dependency
from shared.domain.errors import PermanentError, TransientError, Unavailable
from shared.domain.events import SendBatch, StatusChange
from shared.domain.statuses import CampaignStatus as S
from shared.domain.statuses import DeliveryStatus as D
from shared.domain.statuses import SendStatus, SubStatus
from shared.service_layer import sends
from shared.service_layer.breakers import CircuitBreaker, Guarded
from shared.service_layer.operations import apply_batch
from shared.service_layer.steps import mark_failed
from shared.views import sends as send_views
from tests.factories import history, load, ready_to_create
from tests.support import receive_all

CONFIG = SendConfig("https://news.example", "a-test-secret-of-some-length", retry_base_seconds=0)
FAST = sends.Controls(batch_size=2, delay_ms=0, cooldown_seconds=0)


async def ready_to_send(runtime: Runtime, recipients: int) -> StatusChange:
    event = await ready_to_create(runtime, recipients=recipients)
    await EMAIL_STEP.handle(event, runtime.unit_of_work("email-creation", event.event_id))
    return StatusChange.model_validate_json(
        (await history(runtime.sessions, event.campaign_id))[-1].payload
    )


async def queued_batches(runtime: Runtime, topology: Report) -> list[SendBatch]:
    messages = await receive_all(runtime.sqs, topology.queue_urls["email-sender"], rounds=5)
    bodies = [json.loads(m["Body"]) for m in messages]
    return [SendBatch.model_validate(b) for b in bodies if b["event_type"] == "SEND_BATCH"]


class Sender:
    """Drives one send batch by batch, with a real SES client on the emulator."""

    def __init__(self, runtime: Runtime, mailer: Any, config: SendConfig = CONFIG) -> None:
        self.runtime = runtime
        self.mailer = mailer
        self.config = config

    async def ready(self, event: StatusChange, controls: sends.Controls = FAST) -> Send:
        uow = self.runtime.unit_of_work("email-sender", event.event_id)
        await handle_ready(event, uow, controls=controls)
        async with self.runtime.sessions() as session:
            send = await sends.find(session, event.campaign_id, event.cycle)
        assert send is not None
        return send

    async def batch(self, batch: SendBatch) -> None:
        await handle_batch(
            batch,
            self.runtime.unit_of_work("email-sender", batch.event_id),
            sessions=self.runtime.sessions,
            mailer=self.mailer,
            config=self.config,
        )

    async def progress(self, send_id: int) -> send_views.SendProgress:
        async with self.runtime.sessions() as session:
            return await send_views.progress(session, send_id)


@pytest.fixture
async def ses(runtime: Runtime) -> Any:
    async with async_client(runtime.aws, "ses", runtime.settings) as client:
        yield client


@pytest.fixture
def sender(runtime: Runtime, ses: Any) -> Sender:
    return Sender(runtime, SesMailer(ses, runtime.settings.sender_email))


def addresses(runtime: Runtime) -> list[str]:
    sent = moto_sent_emails(runtime.settings.aws_endpoint_url or "")
    return [a for m in sent for a in m["destinations"]["ToAddresses"]]


async def test_every_recipient_is_recorded_pending_then_sent_batch_by_batch(
    runtime: Runtime, topology: Report, sender: Sender
) -> None:
    event = await ready_to_send(runtime, recipients=5)
    send = await sender.ready(event)

    first = await sender.progress(send.id)
    assert (first.total, first.pending, first.sent, first.status) == (5, 5, 0, SendStatus.RUNNING)
    assert (await load(runtime.sessions, event.campaign_id)).campaign_status is S.SENDING
    seen: list[tuple[int, int, int]] = []
    for expected_batch in range(3):
        (batch,) = await queued_batches(runtime, topology)
        assert batch.batch == expected_batch
        await sender.batch(batch)
        now = await sender.progress(send.id)
        seen.append((now.sent, now.pending, now.batches_done))
        assert now.last_batch_at is not None

    assert seen == [(2, 3, 1), (4, 1, 2), (5, 0, 3)]
    assert await queued_batches(runtime, topology) == []
    done = await sender.progress(send.id)
    assert done.status is SendStatus.COMPLETED and done.finished_at is not None
    campaign = await load(runtime.sessions, event.campaign_id)
    assert campaign.campaign_status is S.DORMANT and campaign.send_status is SubStatus.DORMANT
    assert len(addresses(runtime)) == 5 == len(set(addresses(runtime)))


async def test_each_email_carries_one_click_unsubscribe_headers_that_work(
    runtime: Runtime, topology: Report, sender: Sender
) -> None:
    """The recorded MIME (what a mailbox provider sees) has List-Unsubscribe with the
    recipient's own https link and List-Unsubscribe-Post; the provider's one-click POST to that
    link unsubscribes exactly that recipient."""
    event = await ready_to_send(runtime, recipients=2)
    await sender.ready(event)
    for batch in await queued_batches(runtime, topology):
        await sender.batch(batch)
    sent = moto_sent_emails(runtime.settings.aws_endpoint_url or "")
    assert len(sent) == 2
    secrets = {
        "api_token": SecretStr("t" * 32),
        "unsubscribe_secret": SecretStr(CONFIG.unsubscribe_secret),
    }
    settings = runtime.settings.model_copy(update=secrets)
    app = create_app(settings)
    app.state.runtime = dataclasses.replace(runtime, settings=settings)  # the API as deployed
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://n"
    ) as api:
        message = sent[0]
        headers = message["headers"]
        assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        (link,) = re.findall(r"<(https://[^>]+)>", headers["List-Unsubscribe"])
        assert link.startswith(f"{CONFIG.public_base_url}/unsubscribe?token=")
        assert link in message["body"]  # the same link as the footer's
        assert "multipart/alternative" in message["raw"] and "text/html" in message["raw"]
        one_click = await api.post(
            link.removeprefix(CONFIG.public_base_url),
            content="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert one_click.status_code == 200
    async with runtime.sessions() as session:
        gone = list(
            await session.scalars(
                select(Recipient.email).where(Recipient.unsubscribed_at.is_not(None))
            )
        )
    assert gone == message["destinations"]["ToAddresses"]


async def test_controls_changed_mid_send_apply_to_the_next_batch(
    runtime: Runtime, topology: Report, sender: Sender
) -> None:
    event = await ready_to_send(runtime, recipients=7)
    send = await sender.ready(event)
    (batch,) = await queued_batches(runtime, topology)
    await sender.batch(batch)
    assert (await sender.progress(send.id)).sent == 2

    changed = await sends.change_controls(
        runtime.unit_of_work(), send.id, sends.ControlChanges(batch_size=4, cooldown_seconds=0)
    )
    (batch,) = await queued_batches(runtime, topology)
    await sender.batch(batch)

    assert changed.batch_size == 4
    assert (await sender.progress(send.id)).sent == 6


async def test_the_cooldown_holds_the_next_batch_back(
    runtime: Runtime, topology: Report, sender: Sender
) -> None:
    event = await ready_to_send(runtime, recipients=3)
    send = await sender.ready(event, sends.Controls(batch_size=1, delay_ms=0, cooldown_seconds=30))
    (batch,) = await queued_batches(runtime, topology)
    await sender.batch(batch)
    attributes = await runtime.sqs.get_queue_attributes(
        QueueUrl=topology.queue_urls["email-sender"],
        AttributeNames=["ApproximateNumberOfMessagesDelayed"],
    )
    assert attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"  # DelaySeconds
    following = SendBatch(send_id=send.id, campaign_id=send.campaign_id, cycle=1, batch=1)

    with pytest.raises(Retry) as early:  # delivered early all the same: sent back to wait
        await sender.batch(following)

    assert 25 < early.value.delay <= 30
    assert (await sender.progress(send.id)).sent == 1


async def test_a_batch_delivered_twice_sends_once_and_continues_once(
    runtime: Runtime, topology: Report, sender: Sender
) -> None:
    event = await ready_to_send(runtime, recipients=4)
    send = await sender.ready(event)
    (batch,) = await queued_batches(runtime, topology)
    twin = batch.model_copy(update={"event_id": batch.event_id.__class__(int=7)})

    await asyncio.gather(sender.batch(batch), sender.batch(twin))  # concurrently
    await sender.batch(batch)  # and once more, later

    assert (await sender.progress(send.id)).sent == 2
    assert len(addresses(runtime)) == 2
    assert [b.batch for b in await queued_batches(runtime, topology)] == [1]


async def test_pause_stops_delivery_and_resume_continues_where_it_stopped(
    runtime: Runtime, topology: Report, sender: Sender
) -> None:
    event = await ready_to_send(runtime, recipients=5)
    send = await sender.ready(event)
    (batch,) = await queued_batches(runtime, topology)
    await sender.batch(batch)
    (following,) = await queued_batches(runtime, topology)

    paused = await sends.pause(runtime.unit_of_work(), send.id)
    await sender.batch(following)  # the queued batch arrives while paused

    assert paused.status is SendStatus.PAUSED
    assert (await sender.progress(send.id)).sent == 2
    assert await queued_batches(runtime, topology) == []  # the chain stopped
    with pytest.raises(sends.SendStateError, match="only PAUSED can resume"):
        await sends.resume(runtime.unit_of_work(), send.id)
        await sends.resume(runtime.unit_of_work(), send.id)

    for _ in range(2):
        (batch,) = await queued_batches(runtime, topology)
        await sender.batch(batch)
    await sender.batch(following)  # the stale one, delivered late, does nothing

    done = await sender.progress(send.id)
    assert (done.status, done.sent, done.pending) == (SendStatus.COMPLETED, 5, 0)
    assert sorted(addresses(runtime)) == sorted(set(addresses(runtime)))


async def test_cancel_ends_the_cycle_and_leaves_the_rest_pending(
    runtime: Runtime, topology: Report, sender: Sender
) -> None:
    event = await ready_to_send(runtime, recipients=5)
    send = await sender.ready(event)
    (batch,) = await queued_batches(runtime, topology)
    await sender.batch(batch)
    (following,) = await queued_batches(runtime, topology)

    cancelled = await sends.cancel(runtime.unit_of_work(), send.id)
    await sender.batch(following)

    assert (cancelled.status, cancelled.sent, cancelled.pending) == (SendStatus.CANCELLED, 2, 3)
    async with runtime.sessions() as session:
        page = await send_views.recipients(session, send.id, status=D.PENDING)
    assert page.total == 3
    campaign = await load(runtime.sessions, event.campaign_id)
    assert campaign.campaign_status is S.DORMANT and campaign.cycle == 1
    assert len(addresses(runtime)) == 2
    with pytest.raises(sends.SendStateError):
        await sends.change_controls(
            runtime.unit_of_work(), send.id, sends.ControlChanges(delay_ms=5)
        )


async def test_an_unsubscribe_arriving_mid_send_is_honoured(
    runtime: Runtime, topology: Report, sender: Sender
) -> None:
    event = await ready_to_send(runtime, recipients=4)
    send = await sender.ready(event)
    (batch,) = await queued_batches(runtime, topology)
    await sender.batch(batch)
    async with runtime.sessions() as session:
        last = await session.scalar(
            select(Recipient)
            .where(Recipient.campaign_id == event.campaign_id)
            .order_by(Recipient.id.desc())
        )
        assert last is not None
        last.unsubscribed_at = datetime(2026, 11, 22)
        await session.commit()

    (batch,) = await queued_batches(runtime, topology)
    await sender.batch(batch)

    done = await sender.progress(send.id)
    assert (done.status, done.sent, done.skipped) == (SendStatus.COMPLETED, 3, 1)
    assert last.email not in addresses(runtime)


async def test_transient_errors_are_retried_then_failed_and_permanent_ones_fail_at_once(
    runtime: Runtime, topology: Report, ses: Any
) -> None:
    class Troubled:
        """SES, except: owner0 is throttled twice, owner1 always, owner2 is an invalid address."""

        def __init__(self) -> None:
            self.real = SesMailer(ses, runtime.settings.sender_email)
            self.calls: dict[str, int] = {}

        async def send(self, email: OutgoingEmail) -> str:
            n = self.calls[email.to] = self.calls.get(email.to, 0) + 1
            if (email.to.startswith("owner0") and n <= 2) or email.to.startswith("owner1"):
                raise TransientError("ses", "Throttling: slow down")
            if email.to.startswith("owner2"):
                raise PermanentError("ses", "MessageRejected: invalid address")
            return await self.real.send(email)

    mailer = Troubled()
    sender = Sender(runtime, mailer)
    event = await ready_to_send(runtime, recipients=4)
    send = await sender.ready(event, sends.Controls(batch_size=10, delay_ms=0, cooldown_seconds=0))
    (batch,) = await queued_batches(runtime, topology)

    await sender.batch(batch)

    async with runtime.sessions() as session:
        page = await send_views.recipients(session, send.id, page_size=10)
    by_address = {row.email.split("@")[0]: row for row in page.items}
    assert (by_address["owner0"].status, by_address["owner0"].attempts) == (D.SENT, 3)
    assert by_address["owner1"].status is D.FAILED and by_address["owner1"].attempts == 3
    assert by_address["owner1"].error == "gave up after 3 attempts: ses: Throttling: slow down"
    assert (by_address["owner2"].status, by_address["owner2"].attempts) == (D.FAILED, 1)
    assert by_address["owner3"].provider_message_id
    assert sum(n for to, n in mailer.calls.items() if to.startswith("owner2")) == 1
    done = await sender.progress(send.id)
    assert (done.sent, done.failed, done.status) == (2, 2, SendStatus.COMPLETED)


async def test_recipients_are_listed_page_by_page(
    runtime: Runtime, topology: Report, sender: Sender
) -> None:
    event = await ready_to_send(runtime, recipients=5)
    send = await sender.ready(event)
    (batch,) = await queued_batches(runtime, topology)
    await sender.batch(batch)

    async with runtime.sessions() as session:
        pages = [
            await send_views.recipients(session, send.id, page=p, page_size=2) for p in (1, 2, 3)
        ]
        sent = await send_views.recipients(session, send.id, status=D.SENT)

    assert [len(p.items) for p in pages] == [2, 2, 1]
    assert {p.total for p in pages} == {5}
    ids = [row.delivery_id for p in pages for row in p.items]
    assert ids == sorted(set(ids))
    assert [row.status for row in pages[0].items] == [D.SENT, D.SENT]
    assert sent.total == 2 and all(row.sent_at for row in sent.items)


async def _cut_claim(runtime: Runtime, send: Send) -> Delivery:
    """The state a sender killed between claim and record leaves: SENDING, long ago."""
    async with runtime.sessions() as session:
        first = await session.scalar(select(Delivery).where(Delivery.send_id == send.id))
        assert first is not None
        await session.execute(
            update(Delivery)
            .where(Delivery.id == first.id)
            .values(status=D.SENDING, updated_at=datetime(2026, 1, 1))
        )
        await session.commit()
    return first


async def test_a_claim_with_no_send_event_from_ses_within_the_bound_is_resent(
    runtime: Runtime, topology: Report, sender: Sender
) -> None:
    event = await ready_to_send(runtime, recipients=2)
    send = await sender.ready(event)
    cut = await _cut_claim(runtime, send)
    (batch,) = await queued_batches(runtime, topology)

    await sender.batch(batch)

    async with runtime.sessions() as session:
        page = await send_views.recipients(session, send.id)
    status = {row.delivery_id: (row.status, row.attempts) for row in page.items}
    assert status[cut.id] == (D.SENT, 1)
    assert sorted(addresses(runtime)) == sorted(row.email for row in page.items)


async def test_without_send_events_a_cut_claim_is_failed_not_resent(
    runtime: Runtime, topology: Report, ses: Any
) -> None:
    config = dataclasses.replace(CONFIG, resend_unconfirmed=False)
    sender = Sender(runtime, SesMailer(ses, runtime.settings.sender_email), config)
    event = await ready_to_send(runtime, recipients=2)
    send = await sender.ready(event)
    cut = await _cut_claim(runtime, send)
    (batch,) = await queued_batches(runtime, topology)

    await sender.batch(batch)

    async with runtime.sessions() as session:
        page = await send_views.recipients(session, send.id)
    status = {row.delivery_id: (row.status, row.error) for row in page.items}
    assert status[cut.id] == (D.FAILED, "sender stopped mid-send; not resent, it may have gone")
    assert addresses(runtime) == [row.email for row in page.items if row.delivery_id != cut.id]


async def test_a_send_step_that_gave_up_is_retried_by_the_operator_and_completes(
    runtime: Runtime, topology: Report, sender: Sender
) -> None:
    event = await ready_to_send(runtime, recipients=3)
    send = await sender.ready(event, sends.Controls(batch_size=5, delay_ms=0, cooldown_seconds=0))
    (lost,) = await queued_batches(runtime, topology)  # its retries ran out: it gave up
    await mark_failed("send_status")(
        lost, runtime.unit_of_work("email-sender", lost.event_id), "failed 5 times; SES down"
    )
    failed = await load(runtime.sessions, event.campaign_id)
    assert (failed.campaign_status, failed.error_from_status) == (S.ERROR, S.SENDING)

    result = await apply_batch(runtime.unit_of_work(), "retry", [event.campaign_id])
    assert result.updated == [event.campaign_id], result.refused
    messages = await receive_all(runtime.sqs, topology.queue_urls["email-sender"])
    (retried,) = [StatusChange.model_validate_json(m["Body"]) for m in messages]
    assert (retried.from_status, retried.to_status) == (S.ERROR, S.READY_TO_SEND_EMAIL)
    await sender.ready(retried)
    (batch,) = await queued_batches(runtime, topology)
    await sender.batch(batch)

    done = await sender.progress(send.id)
    assert (done.status, done.sent) == (SendStatus.COMPLETED, 3)
    campaign = await load(runtime.sessions, event.campaign_id)
    assert (campaign.campaign_status, campaign.cycle) == (S.DORMANT, 1)
    assert len(addresses(runtime)) == 3


async def test_one_batch_runs_at_a_time_whatever_arrives_meanwhile(
    runtime: Runtime, topology: Report, ses: Any
) -> None:
    """Found by `make bench-send`: a second READY_TO_SEND_EMAIL, or a stray batch message,
    arriving while a batch runs must not start a second batch beside it (double the rate)."""
    meanwhile: list[list[SendBatch]] = []

    class Interrupted:
        def __init__(self) -> None:
            self.real = SesMailer(ses, runtime.settings.sender_email)

        async def send(self, email: OutgoingEmail) -> str:
            if not meanwhile:  # during the first email of batch 0
                again = event.model_copy(update={"event_id": event.event_id.__class__(int=9)})
                await sender.ready(again)
                meanwhile.append(await queued_batches(runtime, topology))
                await sender.batch(stray)
            return await self.real.send(email)

    sender = Sender(runtime, Interrupted())
    event = await ready_to_send(runtime, recipients=6)
    send = await sender.ready(event, sends.Controls(batch_size=3, delay_ms=0, cooldown_seconds=0))
    (first,) = await queued_batches(runtime, topology)
    stray = first.model_copy(update={"event_id": first.event_id.__class__(int=10), "batch": 1})

    await sender.batch(first)

    assert meanwhile == [[]]  # the second READY_TO_SEND_EMAIL queued no batch
    assert (await sender.progress(send.id)).sent == 3  # batch 0 ran alone; the stray did nothing
    assert [b.batch for b in await queued_batches(runtime, topology)] == [1]


async def test_an_unreachable_endpoint_mid_send_fails_nobody_and_hands_the_batch_back(
    runtime: Runtime, topology: Report, ses: Any
) -> None:
    """The second email finds the endpoint gone (SES and SQS alike): it is not failed, not
    counted by the ses breaker; it and the rest wait as PENDING for the batch to come back."""

    class EndpointGoesAway:
        def __init__(self) -> None:
            self.real = SesMailer(ses, runtime.settings.sender_email)
            self.sent = 0

        async def send(self, email: OutgoingEmail) -> str:
            if self.sent >= 1:
                refused = EndpointConnectionError(endpoint_url="http://127.0.0.1:1/")
                raise TransientError("ses", f"EndpointConnectionError: {refused}") from refused
            self.sent += 1
            return await self.real.send(email)

    async def endpoint_down() -> None:
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1/")

    outage = Outage("aws", endpoint_down, endpoint_unreachable)
    breaker = CircuitBreaker(Dependency.SES, runtime.sessions, outages=(outage,))
    sender = Sender(runtime, Guarded(EndpointGoesAway(), breaker))
    event = await ready_to_send(runtime, recipients=3)
    send = await sender.ready(event, sends.Controls(batch_size=10, delay_ms=0, cooldown_seconds=0))
    (batch,) = await queued_batches(runtime, topology)

    with pytest.raises(Unavailable, match="aws unreachable"):
        await sender.batch(batch)

    async with runtime.sessions() as session:
        page = await send_views.recipients(session, send.id, page_size=10)
        failures = await session.scalar(
            select(CircuitBreakerRow.failures).where(CircuitBreakerRow.name == "ses")
        )
    assert sorted(row.status for row in page.items) == [D.PENDING, D.PENDING, D.SENT]
    assert outage.down and not failures
