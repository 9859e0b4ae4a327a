"""Sends: a campaign cycle's delivery to its recipients, in batches, steerable while it runs.

A send records every recipient as a PENDING delivery first, then delivers batch by batch, each
batch a SEND_BATCH message on the sender's queue delayed by the cooldown. Batch size, the delay
between emails and the cooldown are read afresh for every batch. These are the functions the
sender, the CLI and the control API share: start, progress, recipients, pause, resume, cancel,
controls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Integer, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.adapters import outbox
from shared.adapters.db.models import Delivery, Recipient, Send
from shared.adapters.db.uow import UnitOfWork
from shared.domain.clock import utcnow_naive
from shared.domain.events import SendBatch
from shared.domain.statuses import DeliveryStatus, SendStatus
from shared.service_layer import audit
from shared.service_layer.steps import record_step

SENDER_QUEUE = "email-sender"


class Controls(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_size: int = Field(ge=1, le=1000)
    delay_ms: int = Field(ge=0, le=60_000)
    cooldown_seconds: int = Field(ge=0, le=3600)


class ControlChanges(BaseModel):
    """A partial update of a running send's controls; the next batch uses the new values."""

    model_config = ConfigDict(extra="forbid")

    batch_size: int | None = Field(None, ge=1, le=1000)
    delay_ms: int | None = Field(None, ge=0, le=60_000)
    cooldown_seconds: int | None = Field(None, ge=0, le=3600)


class SendProgress(BaseModel):
    send_id: int
    campaign_id: int
    cycle: int
    status: SendStatus
    status_reason: str | None
    total: int
    sent: int
    failed: int
    skipped: int
    pending: int
    batch_size: int
    delay_ms: int
    cooldown_seconds: int
    batches_done: int
    last_batch_at: datetime | None
    created_at: datetime
    finished_at: datetime | None


class RecipientRow(BaseModel):
    delivery_id: int
    recipient_id: int
    email: str
    status: DeliveryStatus
    attempts: int
    provider_message_id: str | None
    error: str | None
    sent_at: datetime | None


class RecipientPage(BaseModel):
    send_id: int
    page: int
    page_size: int
    total: int
    items: list[RecipientRow]


class SendNotFound(LookupError):
    pass


class SendStateError(Exception):
    """The send is not in a state that allows this (resume a cancelled send, say)."""


@dataclass(frozen=True)
class Counts:
    sent: int
    failed: int
    skipped: int
    pending: int
    sending: int

    @property
    def finished(self) -> bool:
        return self.pending == 0 and self.sending == 0


async def start(session: AsyncSession, campaign_id: int, cycle: int, controls: Controls) -> Send:
    """Create the cycle's send with every subscribed recipient PENDING, and queue batch 0.

    Runs in the caller's transaction; on a second call for the same cycle it returns the send
    that exists and queues nothing.
    """
    existing = await session.scalar(
        select(Send).where(Send.campaign_id == campaign_id, Send.cycle == cycle)
    )
    if existing is not None:
        return existing
    send = Send(campaign_id=campaign_id, cycle=cycle, **controls.model_dump())
    session.add(send)
    await session.flush()
    subscribed = select(
        Recipient.campaign_id,
        literal(cycle, Integer),
        Recipient.id,
        literal(send.id, Integer),
        Recipient.email,
    ).where(Recipient.campaign_id == campaign_id, Recipient.unsubscribed_at.is_(None))
    await session.execute(
        insert(Delivery).from_select(
            ["campaign_id", "cycle", "recipient_id", "send_id", "email"], subscribed
        )
    )
    total = int(await session.scalar(select(func.count()).where(Delivery.send_id == send.id)) or 0)
    send.total = send.pending_count = total
    queue_batch(session, send, 0)
    return send


def restart_chain(session: AsyncSession, send: Send) -> SendBatch:
    """Queue the next batch now, taking the claim from whatever batch held it: a batch still
    running under the old claim stops at its next recipient."""
    send.batch_event_id = None
    return queue_batch(session, send, 0)


def queue_batch(session: AsyncSession, send: Send, delay_seconds: int) -> SendBatch:
    event = SendBatch(
        send_id=send.id, campaign_id=send.campaign_id, cycle=send.cycle, batch=send.next_batch
    )
    outbox.add(session, event, queue=SENDER_QUEUE, delay_seconds=delay_seconds)
    return event


async def counts(session: AsyncSession, send_id: int) -> Counts:
    rows = await session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.send_id == send_id)
        .group_by(Delivery.status)
    )
    by_status = {status: int(n) for status, n in rows}
    return Counts(
        sent=by_status.get(DeliveryStatus.SENT, 0),
        failed=by_status.get(DeliveryStatus.FAILED, 0),
        skipped=by_status.get(DeliveryStatus.SKIPPED, 0),
        pending=by_status.get(DeliveryStatus.PENDING, 0),
        sending=by_status.get(DeliveryStatus.SENDING, 0),
    )


def write_counts(send: Send, current: Counts) -> None:
    send.sent_count = current.sent
    send.failed_count = current.failed
    send.skipped_count = current.skipped
    send.pending_count = current.pending + current.sending


async def end(session: AsyncSession, send: Send, status: SendStatus, reason: str | None) -> None:
    """Finish the send and, with it, the campaign's send step: the cycle ends."""
    send.status = status
    send.status_reason = reason
    send.finished_at = utcnow_naive()
    await record_step(session, send.campaign_id, send.cycle, "send_status")


async def _locked(session: AsyncSession, send_id: int) -> Send:
    send = await session.scalar(
        select(Send)
        .where(Send.id == send_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if send is None:
        raise SendNotFound(f"no send {send_id}")
    return send


async def progress(session: AsyncSession, send_id: int) -> SendProgress:
    send = await session.get(Send, send_id, populate_existing=True)
    if send is None:
        raise SendNotFound(f"no send {send_id}")
    return _progress(send)


def _progress(send: Send) -> SendProgress:
    return SendProgress(
        send_id=send.id,
        campaign_id=send.campaign_id,
        cycle=send.cycle,
        status=send.status,
        status_reason=send.status_reason,
        total=send.total,
        sent=send.sent_count,
        failed=send.failed_count,
        skipped=send.skipped_count,
        pending=send.pending_count,
        batch_size=send.batch_size,
        delay_ms=send.delay_ms,
        cooldown_seconds=send.cooldown_seconds,
        batches_done=send.next_batch,
        last_batch_at=send.last_batch_at,
        created_at=send.created_at,
        finished_at=send.finished_at,
    )


async def recipients(
    session: AsyncSession,
    send_id: int,
    *,
    page: int = 1,
    page_size: int = 50,
    status: DeliveryStatus | None = None,
) -> RecipientPage:
    if await session.get(Send, send_id) is None:
        raise SendNotFound(f"no send {send_id}")
    page, page_size = max(page, 1), min(max(page_size, 1), 500)
    where = [Delivery.send_id == send_id]
    if status is not None:
        where.append(Delivery.status == status)
    total = int(await session.scalar(select(func.count()).where(*where)) or 0)
    rows = await session.scalars(
        select(Delivery)
        .where(*where)
        .order_by(Delivery.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    items = [
        RecipientRow(
            delivery_id=d.id,
            recipient_id=d.recipient_id,
            email=d.email,
            status=d.status,
            attempts=d.attempts,
            provider_message_id=d.provider_message_id,
            error=d.error,
            sent_at=d.sent_at,
        )
        for d in rows
    ]
    return RecipientPage(send_id=send_id, page=page, page_size=page_size, total=total, items=items)


def _audit(uow: UnitOfWork, send: Send, actor: str, action: str) -> None:
    audit.record(
        uow.session,
        actor,
        action,
        campaign_ids=[send.campaign_id],
        send_id=send.id,
        detail={
            "status": send.status.value,
            "sent": send.sent_count,
            "pending": send.pending_count,
        },
    )


async def pause(uow: UnitOfWork, send_id: int, actor: str = "operator") -> SendProgress:
    async with uow:
        send = await _locked(uow.session, send_id)
        if send.status is not SendStatus.RUNNING:
            raise SendStateError(f"send {send_id} is {send.status.value}: only RUNNING can pause")
        send.status, send.status_reason = SendStatus.PAUSED, f"paused by {actor}"
        _audit(uow, send, actor, "pause_send")
        await uow.commit()
        return _progress(send)


async def resume(uow: UnitOfWork, send_id: int, actor: str = "operator") -> SendProgress:
    """Continue where it stopped: queue the next batch at once (a stale one is dropped)."""
    async with uow:
        send = await _locked(uow.session, send_id)
        if send.status is not SendStatus.PAUSED:
            raise SendStateError(f"send {send_id} is {send.status.value}: only PAUSED can resume")
        send.status, send.status_reason = SendStatus.RUNNING, None
        restart_chain(uow.session, send)
        _audit(uow, send, actor, "resume_send")
        await uow.commit()
        return _progress(send)


async def cancel(uow: UnitOfWork, send_id: int, actor: str = "operator") -> SendProgress:
    """Stop for good. Remaining recipients stay PENDING for audit; the campaign's cycle ends."""
    async with uow:
        send = await _locked(uow.session, send_id)
        if send.status not in (SendStatus.RUNNING, SendStatus.PAUSED):
            raise SendStateError(f"send {send_id} is {send.status.value}: nothing to cancel")
        write_counts(send, await counts(uow.session, send_id))
        await end(uow.session, send, SendStatus.CANCELLED, f"cancelled by {actor}")
        _audit(uow, send, actor, "cancel_send")
        await uow.commit()
        return _progress(send)


async def change_controls(
    uow: UnitOfWork, send_id: int, changes: ControlChanges, actor: str = "operator"
) -> SendProgress:
    async with uow:
        send = await _locked(uow.session, send_id)
        if send.status in (SendStatus.CANCELLED, SendStatus.COMPLETED):
            raise SendStateError(f"send {send_id} is {send.status.value}: controls are final")
        for name, value in changes.model_dump(exclude_none=True).items():
            setattr(send, name, value)
        _audit(uow, send, actor, "send_controls")
        await uow.commit()
        return _progress(send)


async def find(session: AsyncSession, campaign_id: int, cycle: int | None = None) -> Send | None:
    query = select(Send).where(Send.campaign_id == campaign_id)
    if cycle is not None:
        query = query.where(Send.cycle == cycle)
    return await session.scalar(query.order_by(Send.cycle.desc()).limit(1))
