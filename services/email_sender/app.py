"""Email sender: the resumable, rate-controlled send of each campaign cycle.

On READY_TO_SEND_EMAIL it records the send and every recipient as PENDING and moves the campaign
to SENDING, queueing batch 0. Each SEND_BATCH delivers up to `batch_size` recipients,
`delay_ms` apart, then, in one transaction, writes the counts and `last_batch_at`, claims the
next sequence number and queues the next batch delayed by the cooldown, or completes the send
and ends the cycle. The visibility timeout is the claim on a batch: a sender that dies mid-batch
leaves it to another, and the per-recipient claims keep anyone from being mailed twice.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.email_sender.delivery import SendConfig, deliver_one, resolve_abandoned_claims
from shared.adapters.db.models import Campaign, Delivery, Email, Send
from shared.adapters.db.rate_limiter import SharedRateLimiter
from shared.adapters.db.rows import affected
from shared.adapters.db.uow import SqlUnitOfWork
from shared.adapters.providers.mailer import Mailer
from shared.adapters.topology import TOPOLOGY
from shared.bootstrap import Runtime
from shared.bootstrap.providers import open_mailer, open_rate_limiter
from shared.consumer.consumer import run_consumers
from shared.consumer.handling import Handler
from shared.consumer.outcomes import Reject, Retry
from shared.domain.clock import utcnow_naive
from shared.domain.dependencies import Dependency
from shared.domain.events import Event, SendBatch, StatusChange
from shared.domain.statuses import CampaignStatus, DeliveryStatus, SendStatus
from shared.domain.transitions import Trigger
from shared.observability import metrics
from shared.service_layer import sends
from shared.service_layer.breakers import CircuitBreaker
from shared.service_layer.steps import finish_step, mark_failed, pending_campaign
from shared.service_layer.transitions import fire

log = structlog.get_logger(__name__)
STEP = "send_status"


async def handle_ready(
    event: StatusChange, uow: SqlUnitOfWork, *, controls: sends.Controls
) -> None:
    """Record the send and its recipients, queue batch 0, and move the campaign to SENDING.

    For a cycle whose send exists already (an operator retry after the send step failed), it
    queues the running send's next batch again instead: a duplicate batch is dropped by its
    sequence number, so this can never start a second chain.
    """
    async with uow:
        campaign = await pending_campaign(uow, event, STEP)
        if campaign is None:
            log.info("step.not_pending", step=STEP)
            return
        email = await uow.session.scalar(
            select(Email.id).where(
                Email.campaign_id == event.campaign_id, Email.cycle == event.cycle
            )
        )
        if email is None:
            await finish_step(uow, event, STEP, error="no email was built for this cycle")
            return
        send = await sends.find(uow.session, event.campaign_id, event.cycle)
        if campaign.campaign_status is not CampaignStatus.READY_TO_SEND_EMAIL:
            log.info("send.already_started", send_id=send.id if send else None)
            return  # a second READY_TO_SEND_EMAIL for a cycle already sending
        skipped_at_start = 0
        if send is None:
            send = await sends.start(uow, event.campaign_id, event.cycle, controls)
            skipped_at_start = send.skipped_count
        elif send.status is SendStatus.RUNNING:
            sends.restart_chain(uow, send)  # retried after its batches gave up
        await fire(uow, event.campaign_id, Trigger.SEND_STARTED)
        await uow.commit()
        if skipped_at_start:  # suppressed addresses, counted once the send exists
            metrics.emails.add(skipped_at_start, {"outcome": "skipped"})
        log.info("send.started", send_id=send.id, recipients=send.total)


async def handle_batch(
    event: SendBatch,
    uow: SqlUnitOfWork,
    *,
    sessions: async_sessionmaker[AsyncSession],
    mailer: Mailer,
    config: SendConfig,
    breaker: CircuitBreaker | None = None,
    limiter: SharedRateLimiter | None = None,
    reads: async_sessionmaker[AsyncSession] | None = None,
) -> None:
    reads = reads or sessions
    async with sessions() as session:
        send = await session.get(Send, event.send_id)
        if send is None:
            raise Reject(f"send {event.send_id} does not exist")
        if send.status is not SendStatus.RUNNING:
            log.info("send.not_running", status=send.status.value)
            return  # paused or ended: the chain stops here; resume starts a new one
        if send.last_batch_at is not None:
            wait = send.last_batch_at + timedelta(seconds=send.cooldown_seconds) - utcnow_naive()
            if wait.total_seconds() > 0:
                raise Retry("cooldown not over", delay=wait.total_seconds())
        if not await _claim(session, event):
            log.info("send.stale_batch", batch=event.batch, expected=send.next_batch)
            return  # a duplicate of a batch another message has claimed
        await resolve_abandoned_claims(
            session, send.id, config.claim_timeout, config.resend_unconfirmed
        )
        await session.commit()
    async with reads() as session:
        found = (
            await session.execute(
                select(Email, Campaign.agent_email)
                .join(Campaign, Campaign.id == Email.campaign_id)
                .where(Email.campaign_id == send.campaign_id, Email.cycle == send.cycle)
            )
        ).first()
        batch = list(
            await session.scalars(
                select(Delivery.id)
                .where(Delivery.send_id == send.id, Delivery.status == DeliveryStatus.PENDING)
                .order_by(Delivery.id)
                .limit(send.batch_size)
            )
        )
    delay = send.delay_ms / 1000
    if found is None:
        raise Reject(f"send {event.send_id} has no email or campaign")
    email, agent_email = found

    delivered = 0
    for index, delivery_id in enumerate(batch):
        if not await _still_ours(reads, event):
            log.info("send.stopped_mid_batch", delivered=delivered)
            break
        if index and delay:
            await asyncio.sleep(delay)
        down = breaker.is_open if breaker is not None else None
        sent = await deliver_one(
            sessions, mailer, email, agent_email, delivery_id, config, down, limiter
        )
        if sent:
            metrics.emails.add(1, {"outcome": sent.value.lower()})
            delivered += 1
    await _close_batch(uow, event, delivered)


async def _claim(session: AsyncSession, event: SendBatch) -> bool:
    """Claim batch N for this message by moving next_batch to N+1, if no batch is running.

    The same message may claim it again (SQS redelivered it because its sender died mid-batch);
    any other message carrying N is a duplicate and is refused, so one batch runs at a time.
    """
    mine = str(event.event_id)
    claimed = await session.execute(
        update(Send)
        .where(
            Send.id == event.send_id,
            Send.status == SendStatus.RUNNING,
            or_(
                and_(Send.next_batch == event.batch, Send.batch_event_id.is_(None)),
                and_(Send.next_batch == event.batch + 1, Send.batch_event_id == mine),
            ),
        )
        .values(next_batch=event.batch + 1, batch_event_id=mine)
    )
    return affected(claimed) == 1


async def _still_ours(reads: async_sessionmaker[AsyncSession], event: SendBatch) -> bool:
    """Running, and this batch still holds the claim (a resume may have restarted the chain)."""
    async with reads() as session:
        row = (
            await session.execute(
                select(Send.status, Send.batch_event_id).where(Send.id == event.send_id)
            )
        ).one()
    return row.status is SendStatus.RUNNING and row.batch_event_id == str(event.event_id)


async def _close_batch(uow: SqlUnitOfWork, event: SendBatch, delivered: int) -> None:
    """Counts, last_batch_at and the next batch (or the end), in one transaction."""
    async with uow:
        send = await uow.session.get(
            Send, event.send_id, populate_existing=True, with_for_update=True
        )
        if send is None:  # deleted with its campaign while the batch ran
            raise Reject(f"send {event.send_id} does not exist")
        if send.batch_event_id != str(event.event_id):
            log.info("send.batch_reclaimed", batch=event.batch)
            return  # resumed and claimed afresh meanwhile: that batch's message carries on
        send.last_batch_at = utcnow_naive()
        send.batch_event_id = None  # closed: not even this message may run it again
        current = await sends.counts(uow.session, send.id)
        sends.write_counts(send, current)
        if send.status is SendStatus.RUNNING:
            if current.finished:
                await sends.end(uow, send, SendStatus.COMPLETED, None)
            else:
                sends.queue_batch(uow, send, send.cooldown_seconds)
        await uow.commit()
        log.info(
            "send.batch_done",
            batch=event.batch,
            delivered=delivered,
            sent=send.sent_count,
            failed=send.failed_count,
            pending=send.pending_count,
            status=send.status.value,
        )


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    settings = runtime.settings
    config = SendConfig(
        settings.public_base_url,
        settings.unsubscribe_secret.get_secret_value(),
        claim_timeout=timedelta(seconds=settings.send_claim_timeout_seconds),
        max_attempts=settings.send_max_attempts,
        retry_base_seconds=settings.send_retry_base_seconds,
        postal_address=settings.postal_address,
        resend_unconfirmed=settings.send_claim_resend,
    )
    controls = sends.Controls(
        batch_size=settings.send_batch_size,
        delay_ms=settings.send_delay_ms,
        cooldown_seconds=settings.send_cooldown_seconds,
    )
    mailer = await open_mailer(runtime)
    limiter = await open_rate_limiter(runtime)
    handlers: dict[type[Event], Handler[SqlUnitOfWork]] = {
        StatusChange: partial(handle_ready, controls=controls),
        SendBatch: partial(
            handle_batch,
            sessions=runtime.sessions,
            reads=runtime.readers,
            mailer=mailer,
            config=config,
            # asks only whether it is open
            breaker=CircuitBreaker(Dependency.SES, runtime.sessions, reads=runtime.readers),
            limiter=limiter,
        ),
    }
    consumer = await runtime.consumer(
        TOPOLOGY.queue("email-sender"), handlers, on_give_up=mark_failed(STEP)
    )
    await run_consumers([consumer], stop)
