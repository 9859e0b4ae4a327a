"""Sends: a campaign cycle's delivery to its recipients, in batches, steerable while it runs.

A send records every recipient as a PENDING delivery first, then delivers batch by batch, each
batch a SEND_BATCH message on the sender's queue delayed by the cooldown. Batch size, the delay
between emails and the cooldown are read afresh for every batch. These are the functions the
sender, the CLI and the control API share: start, pause, resume, cancel, controls (progress
and the recipient list are the read side's: shared/views/sends.py).

They need SQL beyond the unit-of-work port (a bulk INSERT ... SELECT of the recipients, the
send row locked), so they take the SQL unit of work and use its session.
"""

from __future__ import annotations

from sqlalchemy import Integer, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.adapters.db.models import Delivery, Recipient, Send, Suppression
from shared.adapters.db.uow import SqlUnitOfWork
from shared.domain.clock import utcnow_naive
from shared.domain.events import SendBatch
from shared.domain.feedback import SuppressionReason
from shared.domain.sends import (
    SENDER_QUEUE,
    ControlChanges,
    Controls,
    Counts,
    SendNotFound,
    SendStateError,
)
from shared.domain.statuses import DeliveryStatus, SendStatus
from shared.domain.suppressions import skip_reason
from shared.service_layer import audit
from shared.service_layer.steps import record_step
from shared.views.sends import SendProgress, progress_of

__all__ = ["SENDER_QUEUE", "ControlChanges", "Controls", "Counts", "SendNotFound", "SendStateError"]


async def start(uow: SqlUnitOfWork, campaign_id: int, cycle: int, controls: Controls) -> Send:
    """Create the cycle's send with every subscribed recipient PENDING (SKIPPED if the address
    is suppressed), and queue batch 0.

    Runs in the caller's transaction; on a second call for the same cycle it returns the send
    that exists and queues nothing.
    """
    session = uow.session
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
    await skip_suppressed(session, send.id)
    send.total = int(
        await session.scalar(select(func.count()).where(Delivery.send_id == send.id)) or 0
    )
    write_counts(send, await counts(session, send.id))
    queue_batch(uow, send, 0)
    return send


async def skip_suppressed(session: AsyncSession, send_id: int) -> None:
    """Deliveries to suppressed addresses are SKIPPED with the reason, not left to be sent.

    Found by a plain (non-locking) read, then updated by primary key: an UPDATE ranging over
    the send's deliveries would take gap locks that deadlock concurrent starts on MySQL.
    """
    found = await session.execute(
        select(Delivery.id, Suppression.reason)
        .join(Suppression, Suppression.email == func.lower(func.trim(Delivery.email)))
        .where(Delivery.send_id == send_id, Suppression.lifted_at.is_(None))
    )
    by_reason: dict[SuppressionReason, list[int]] = {}
    for delivery_id, reason in found.all():
        by_reason.setdefault(reason, []).append(delivery_id)
    for reason, ids in by_reason.items():
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids))
            .values(status=DeliveryStatus.SKIPPED, error=skip_reason(reason))
        )


def restart_chain(uow: SqlUnitOfWork, send: Send) -> SendBatch:
    """Queue the next batch now, taking the claim from whatever batch held it: a batch still
    running under the old claim stops at its next recipient."""
    send.batch_event_id = None
    return queue_batch(uow, send, 0)


def queue_batch(uow: SqlUnitOfWork, send: Send, delay_seconds: int) -> SendBatch:
    event = SendBatch(
        send_id=send.id, campaign_id=send.campaign_id, cycle=send.cycle, batch=send.next_batch
    )
    uow.emit(event, queue=SENDER_QUEUE, delay_seconds=delay_seconds)
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


async def end(uow: SqlUnitOfWork, send: Send, status: SendStatus, reason: str | None) -> None:
    """Finish the send and, with it, the campaign's send step: the cycle ends."""
    send.status = status
    send.status_reason = reason
    send.finished_at = utcnow_naive()
    await uow.session.flush()  # the send's new status before the step's compare-and-set
    await record_step(uow, send.campaign_id, send.cycle, "send_status")


async def locked(session: AsyncSession, send_id: int) -> Send:
    """The send, its row locked for the caller's transaction, read afresh."""
    send = await session.scalar(
        select(Send)
        .where(Send.id == send_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if send is None:
        raise SendNotFound(f"no send {send_id}")
    return send


def _audit(uow: SqlUnitOfWork, send: Send, actor: str, action: str) -> None:
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


async def pause(uow: SqlUnitOfWork, send_id: int, actor: str = "operator") -> SendProgress:
    async with uow:
        send = await locked(uow.session, send_id)
        if send.status is not SendStatus.RUNNING:
            raise SendStateError(f"send {send_id} is {send.status.value}: only RUNNING can pause")
        await pause_locked(uow, send, actor, f"paused by {actor}")
        await uow.commit()
        return progress_of(send)


async def pause_locked(uow: SqlUnitOfWork, send: Send, actor: str, reason: str) -> None:
    """Pause a RUNNING send whose row the caller holds locked; the running batch stops at its
    next recipient and the chain waits for a resume."""
    send.status, send.status_reason = SendStatus.PAUSED, reason
    _audit(uow, send, actor, "pause_send")


async def resume(uow: SqlUnitOfWork, send_id: int, actor: str = "operator") -> SendProgress:
    """Continue where it stopped: queue the next batch at once (a stale one is dropped)."""
    async with uow:
        send = await locked(uow.session, send_id)
        if send.status is not SendStatus.PAUSED:
            raise SendStateError(f"send {send_id} is {send.status.value}: only PAUSED can resume")
        send.status, send.status_reason = SendStatus.RUNNING, None
        restart_chain(uow, send)
        _audit(uow, send, actor, "resume_send")
        await uow.commit()
        return progress_of(send)


async def cancel(uow: SqlUnitOfWork, send_id: int, actor: str = "operator") -> SendProgress:
    """Stop for good. Remaining recipients stay PENDING for audit; the campaign's cycle ends."""
    async with uow:
        send = await locked(uow.session, send_id)
        if send.status not in (SendStatus.RUNNING, SendStatus.PAUSED):
            raise SendStateError(f"send {send_id} is {send.status.value}: nothing to cancel")
        write_counts(send, await counts(uow.session, send_id))
        await end(uow, send, SendStatus.CANCELLED, f"cancelled by {actor}")
        _audit(uow, send, actor, "cancel_send")
        await uow.commit()
        return progress_of(send)


async def change_controls(
    uow: SqlUnitOfWork, send_id: int, changes: ControlChanges, actor: str = "operator"
) -> SendProgress:
    async with uow:
        send = await locked(uow.session, send_id)
        if send.status in (SendStatus.CANCELLED, SendStatus.COMPLETED):
            raise SendStateError(f"send {send_id} is {send.status.value}: controls are final")
        for name, value in changes.model_dump(exclude_none=True).items():
            setattr(send, name, value)
        _audit(uow, send, actor, "send_controls")
        await uow.commit()
        return progress_of(send)


async def find(session: AsyncSession, campaign_id: int, cycle: int | None = None) -> Send | None:
    query = select(Send).where(Send.campaign_id == campaign_id)
    if cycle is not None:
        query = query.where(Send.cycle == cycle)
    return await session.scalar(query.order_by(Send.cycle.desc()).limit(1))
