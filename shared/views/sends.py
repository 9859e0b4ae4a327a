"""The read side of sends: progress and the recipient list, as the API and CLI show them."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.adapters.db.models import Delivery, Send
from shared.domain.clock import UtcDatetime
from shared.domain.sends import SendNotFound, rate
from shared.domain.statuses import DeliveryStatus, SendStatus


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
    bounced: int
    """Recipients whose email bounced for good (SES's feedback)."""
    complained: int
    bounce_rate: float | None
    """bounced / sent; None before anything was sent."""
    complaint_rate: float | None
    batch_size: int
    delay_ms: int
    cooldown_seconds: int
    batches_done: int
    last_batch_at: UtcDatetime | None
    created_at: UtcDatetime
    finished_at: UtcDatetime | None


class Deliverability(BaseModel):
    """A campaign's feedback over all its sends: what SES's review looks at, per campaign."""

    sent: int
    bounced: int
    complained: int
    bounce_rate: float | None
    complaint_rate: float | None


async def deliverability(session: AsyncSession, campaign_id: int) -> Deliverability:
    sent, bounced, complained = (
        await session.execute(
            select(
                func.coalesce(func.sum(Send.sent_count), 0),
                func.coalesce(func.sum(Send.bounced_count), 0),
                func.coalesce(func.sum(Send.complained_count), 0),
            ).where(Send.campaign_id == campaign_id)
        )
    ).one()
    sent, bounced, complained = int(sent), int(bounced), int(complained)
    return Deliverability(
        sent=sent,
        bounced=bounced,
        complained=complained,
        bounce_rate=rate(bounced, sent),
        complaint_rate=rate(complained, sent),
    )


class RecipientRow(BaseModel):
    delivery_id: int
    recipient_id: int
    email: str
    status: DeliveryStatus
    attempts: int
    provider_message_id: str | None
    error: str | None
    sent_at: UtcDatetime | None


class RecipientPage(BaseModel):
    send_id: int
    page: int
    page_size: int
    total: int
    items: list[RecipientRow]


async def progress(session: AsyncSession, send_id: int) -> SendProgress:
    send = await session.get(Send, send_id, populate_existing=True)
    if send is None:
        raise SendNotFound(f"no send {send_id}")
    return progress_of(send)


def progress_of(send: Send) -> SendProgress:
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
        bounced=send.bounced_count,
        complained=send.complained_count,
        bounce_rate=rate(send.bounced_count, send.sent_count),
        complaint_rate=rate(send.complained_count, send.sent_count),
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
