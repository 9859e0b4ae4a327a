"""A sender process killed mid-batch: another picks the batch up and nobody is mailed twice."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from infra.provision import Report
from services.email_creation.app import EMAIL_STEP
from shared.adapters.db.models import Delivery
from shared.bootstrap import Runtime
from shared.config import Settings
from shared.devtools.demo.processes import ServiceProcess, service_environment
from shared.devtools.emulator import moto_sent_emails
from shared.domain.statuses import CampaignStatus as S
from shared.domain.statuses import DeliveryStatus as D
from shared.domain.statuses import SendStatus
from shared.service_layer import sends
from shared.views import sends as send_views
from tests.factories import load, ready_to_create
from tests.support import eventually


async def _sent(runtime: Runtime) -> int:
    async with runtime.sessions() as session:
        count = await session.scalar(select(func.count()).where(Delivery.status == D.SENT))
    return int(count or 0)


async def test_a_sender_killed_mid_batch_leaves_the_batch_to_another(
    runtime: Runtime, topology: Report, settings: Settings, tmp_path: Path
) -> None:
    await runtime.sqs.set_queue_attributes(
        QueueUrl=topology.queue_urls["email-sender"], Attributes={"VisibilityTimeout": "3"}
    )
    event = await ready_to_create(runtime, recipients=9)
    await EMAIL_STEP.handle(event, runtime.unit_of_work("email-creation", event.event_id))
    env = service_environment(
        settings.model_copy(
            update={
                "send_batch_size": 4,
                "send_delay_ms": 400,  # slow enough to be caught mid-batch
                "send_cooldown_seconds": 1,
                "send_claim_timeout_seconds": 3,
            }
        ),
        # No SES Send events flow here (test_crash_cut_claims.py has them): a claim the kill
        # cuts is failed, at most once, rather than resent.
        DRIPR_SEND_CLAIM_RESEND="false",
    )
    sender = ServiceProcess("email_sender", env, tmp_path)
    sender.start()
    try:
        await eventually(lambda: _at_least(runtime, 2), within=60, interval=0.02)
        sender.kill()  # SIGKILL: no drain, no release; the batch message stays invisible
        killed_at = await _sent(runtime)
        assert killed_at < 9
        sender.start()
        await eventually(lambda: _completed(runtime, event.campaign_id), within=90)
    finally:
        sender.stop()
        print(sender.log_path.read_text()[-3000:])

    async with runtime.sessions() as session:
        send = await sends.find(session, event.campaign_id, 1)
        assert send is not None
        progress = await send_views.progress(session, send.id)
        page = await send_views.recipients(session, send.id, page_size=20)
    per_address = Counter(
        a
        for m in moto_sent_emails(settings.aws_endpoint_url or "")
        for a in m["destinations"]["ToAddresses"]
    )
    assert max(per_address.values()) == 1, "a recipient was mailed twice"
    failed = [row for row in page.items if row.status is D.FAILED]
    assert len(failed) <= 1  # the one claim the kill may have caught between claim and record
    assert all("sender stopped mid-send" in (row.error or "") for row in failed)
    assert progress.sent == sum(row.status is D.SENT for row in page.items) == 9 - len(failed)
    assert (progress.pending, progress.failed, progress.total) == (0, len(failed), 9)
    assert (await load(runtime.sessions, event.campaign_id)).campaign_status is S.DORMANT


async def _at_least(runtime: Runtime, count: int) -> bool:
    return await _sent(runtime) >= count


async def _completed(runtime: Runtime, campaign_id: int) -> bool:
    async with runtime.sessions() as session:
        send = await sends.find(session, campaign_id, 1)
        return send is not None and send.status is SendStatus.COMPLETED
