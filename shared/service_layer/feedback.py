"""SES feedback, recorded: settle claims, suppress addresses, count rates, guard the send.

One notification is handled in one transaction with its processed marker:
- a Send event settles its delivery (a claim a dead sender left, even one already given up on,
  becomes SENT: SES accepted it, so it must not be sent again);
- a delivery is recorded;
- a permanent bounce or a complaint suppresses the address for every campaign; transient
  bounces suppress it after `transient_bounce_limit` in a row (a delivery resets the count);
- a bounce or complaint counts against its send, and when the send's bounce or complaint rate
  crosses the guard's threshold the send is paused for an operator to decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog
from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.adapters.db.models import Delivery, FeedbackRecord, Suppression
from shared.adapters.db.rows import affected
from shared.adapters.db.uow import SqlUnitOfWork
from shared.domain.clock import utcnow_naive
from shared.domain.feedback import BounceType, FeedbackKind, SesFeedback, SuppressionReason
from shared.domain.sends import ABANDONED_CLAIM, Guard
from shared.domain.statuses import DeliveryStatus, SendStatus
from shared.domain.suppressions import normalise
from shared.service_layer import sends

log = structlog.get_logger(__name__)

GUARD_ACTOR = "deliverability guard"


@dataclass(frozen=True)
class FeedbackPolicy:
    transient_bounce_limit: int = 3
    guard: Guard = field(default_factory=Guard)


class UnmatchedFeedback(Exception):
    """No delivery of ours has this SES message id or delivery tag."""


async def find_delivery(session: AsyncSession, event: SesFeedback) -> Delivery:
    """The delivery a notification is about: by its `delivery` tag (if the recipient is that
    delivery's: a tag is only a number), else by SES message id."""
    delivery = None
    if event.delivery_id is not None:
        delivery = await session.get(Delivery, event.delivery_id)
        named = {normalise(a) for a in event.recipients}
        if delivery is not None and normalise(delivery.email) not in named:
            delivery = None
    if delivery is None:
        delivery = await session.scalar(
            select(Delivery).where(Delivery.provider_message_id == event.ses_message_id).limit(1)
        )
    if delivery is None:
        tag = f" or delivery tag {event.delivery_id}" if event.delivery_id else ""
        raise UnmatchedFeedback(f"no delivery has SES message id {event.ses_message_id!r}{tag}")
    return delivery


async def record(uow: SqlUnitOfWork, event: SesFeedback, policy: FeedbackPolicy) -> Delivery:
    """Apply one notification in the caller's transaction; return the delivery it is about."""
    session = uow.session
    delivery = await find_delivery(session, event)
    if event.kind is FeedbackKind.SEND:
        await _settle(uow, delivery, event.ses_message_id)
        return delivery
    addresses = {normalise(a) for a in event.recipients} or {normalise(delivery.email)}
    first_of_its_kind = not await _counted_before(session, delivery.id, event)
    for email in sorted(addresses):
        session.add(
            FeedbackRecord(
                delivery_id=delivery.id,
                send_id=delivery.send_id,
                campaign_id=delivery.campaign_id,
                email=email,
                kind=event.kind,
                bounce_type=event.bounce_type.value if event.bounce_type else None,
                detail=event.detail,
                ses_message_id=event.ses_message_id,
            )
        )
    await session.flush()
    if event.kind in (FeedbackKind.BOUNCE, FeedbackKind.COMPLAINT):
        for email in sorted(addresses):
            reason = event.suppresses
            soft = reason is None and event.bounce_type is BounceType.TRANSIENT
            if soft and await transient_bounces(session, email) >= policy.transient_bounce_limit:
                reason = SuppressionReason.TRANSIENT_BOUNCES
            if reason is not None:
                await suppress(session, email, reason, event.detail, delivery)
        if event.suppresses is not None and delivery.send_id is not None and first_of_its_kind:
            await _count_against_send(uow, delivery.send_id, event.kind, policy.guard)
    return delivery


async def _settle(uow: SqlUnitOfWork, delivery: Delivery, message_id: str) -> None:
    """SES accepted this delivery: SENT, whatever a dead sender left it as."""
    was = delivery.status
    settled = await uow.session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery.id,
            or_(
                Delivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.SENDING)),
                and_(Delivery.status == DeliveryStatus.FAILED, Delivery.error == ABANDONED_CLAIM),
            ),
        )
        .values(
            status=DeliveryStatus.SENT,
            provider_message_id=func.coalesce(Delivery.provider_message_id, message_id),
            sent_at=func.coalesce(Delivery.sent_at, utcnow_naive()),
            error=None,
        )
    )
    if affected(settled) and delivery.send_id is not None:
        log.info("feedback.claim_settled", delivery_id=delivery.id, was=was.value)
        send = await sends.locked(uow.session, delivery.send_id)
        sends.write_counts(send, await sends.counts(uow.session, send.id))


async def transient_bounces(session: AsyncSession, email: str) -> int:
    """Soft bounces since the address's last delivery and since its suppression was lifted."""
    last_delivery = await session.scalar(
        select(func.max(FeedbackRecord.id)).where(
            FeedbackRecord.email == email, FeedbackRecord.kind == FeedbackKind.DELIVERY
        )
    )
    lifted_at = await session.scalar(
        select(Suppression.lifted_at).where(Suppression.email == email)
    )
    query = select(func.count()).where(
        FeedbackRecord.email == email,
        FeedbackRecord.kind == FeedbackKind.BOUNCE,
        FeedbackRecord.bounce_type == BounceType.TRANSIENT.value,
        FeedbackRecord.id > (last_delivery or 0),
    )
    if lifted_at is not None:
        query = query.where(FeedbackRecord.received_at > lifted_at)
    return int(await session.scalar(query) or 0)


async def suppress(
    session: AsyncSession,
    email: str,
    reason: SuppressionReason,
    detail: str | None,
    delivery: Delivery,
) -> bool:
    """Suppress the address (again, if it was lifted); False if it was suppressed already."""
    now = utcnow_naive()
    values = {
        "reason": reason,
        "detail": detail,
        "delivery_id": delivery.id,
        "campaign_id": delivery.campaign_id,
        "created_at": now,
    }
    inserted = await session.execute(
        insert(Suppression)
        .values(email=email, **values)
        .prefix_with("IGNORE", dialect="mysql")
        .prefix_with("OR IGNORE", dialect="sqlite")
    )
    if affected(inserted) == 0:
        renewed = await session.execute(
            update(Suppression)
            .where(Suppression.email == email, Suppression.lifted_at.is_not(None))
            .values(lifted_at=None, lifted_by=None, **values)
        )
        if affected(renewed) == 0:
            return False
    log.warning("feedback.suppressed", email=email, reason=reason.value, detail=detail)
    return True


async def _counted_before(session: AsyncSession, delivery_id: int, event: SesFeedback) -> bool:
    """Whether an earlier notification already counted this delivery as bounced or complained
    (SES may report one bounce twice, with different feedback ids)."""
    if event.suppresses is None:
        return False
    earlier = select(FeedbackRecord.id).where(
        FeedbackRecord.delivery_id == delivery_id, FeedbackRecord.kind == event.kind
    )
    if event.kind is FeedbackKind.BOUNCE:
        earlier = earlier.where(FeedbackRecord.bounce_type == BounceType.PERMANENT.value)
    return (await session.scalar(earlier.limit(1))) is not None


async def _count_against_send(
    uow: SqlUnitOfWork, send_id: int, kind: FeedbackKind, guard: Guard
) -> None:
    """Count one bounced or complained recipient against its send; the guard pauses a running
    send whose rate is over its threshold, once: after a resume the operator has decided."""
    send = await sends.locked(uow.session, send_id)
    if kind is FeedbackKind.COMPLAINT:
        send.complained_count += 1
    else:
        send.bounced_count += 1
    reason = guard.tripped(send.sent_count, send.bounced_count, send.complained_count)
    if reason and send.status is SendStatus.RUNNING and send.guard_paused_at is None:
        send.guard_paused_at = utcnow_naive()
        await sends.pause_locked(uow, send, GUARD_ACTOR, reason)
        log.warning("feedback.send_paused", send_id=send.id, reason=reason)
