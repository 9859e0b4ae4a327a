"""Delivering one cycle's email to its recipients, each at most once.

Every recipient gets a delivery row first (PENDING). Each is then claimed (PENDING → SENDING,
a compare-and-set), sent through SES, and recorded (SENT with the provider's message id, or
FAILED with the error), each write committed on its own. A claim left behind by a sender that
died mid-send is never sent again, because the email may have gone: it is FAILED for audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import Integer, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.clock import utcnow_naive
from shared.db.models import Delivery, Email, Recipient
from shared.newsletter import personalise
from shared.providers.errors import PermanentError, TransientError
from shared.providers.mailer import Mailer, OutgoingEmail
from shared.statuses import DeliveryStatus as D
from shared.unsubscribe import unsubscribe_url

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SendConfig:
    public_base_url: str
    unsubscribe_secret: str
    claim_timeout: timedelta = timedelta(minutes=2)


async def record_recipients(session: AsyncSession, campaign_id: int, cycle: int) -> None:
    """A PENDING delivery for every subscribed recipient; running it again adds nothing."""
    already = select(Delivery.recipient_id).where(
        Delivery.campaign_id == campaign_id, Delivery.cycle == cycle
    )
    subscribed = select(
        Recipient.campaign_id, literal(cycle, Integer), Recipient.id, Recipient.email
    ).where(
        Recipient.campaign_id == campaign_id,
        Recipient.unsubscribed_at.is_(None),
        Recipient.id.not_in(already),
    )
    await session.execute(
        insert(Delivery)
        .from_select(["campaign_id", "cycle", "recipient_id", "email"], subscribed)
        .prefix_with("IGNORE", dialect="mysql")
        .prefix_with("OR IGNORE", dialect="sqlite")
    )


async def deliver_all(
    sessions: async_sessionmaker[AsyncSession],
    mailer: Mailer,
    email: Email,
    agent_email: str,
    config: SendConfig,
) -> bool:
    """Send every PENDING delivery; True when none is left in flight (the send is complete)."""
    async with sessions() as session:
        await record_recipients(session, email.campaign_id, email.cycle)
        await _fail_abandoned_claims(session, email, config.claim_timeout)
        await session.commit()
        pending = (
            await session.scalars(
                select(Delivery.id).where(
                    Delivery.campaign_id == email.campaign_id,
                    Delivery.cycle == email.cycle,
                    Delivery.status == D.PENDING,
                )
            )
        ).all()
    for delivery_id in pending:
        await deliver_one(sessions, mailer, email, agent_email, delivery_id, config)
    async with sessions() as session:
        in_flight = await session.scalar(
            select(func.count()).where(
                Delivery.campaign_id == email.campaign_id,
                Delivery.cycle == email.cycle,
                Delivery.status.in_((D.PENDING, D.SENDING)),
            )
        )
    return not in_flight


async def deliver_one(
    sessions: async_sessionmaker[AsyncSession],
    mailer: Mailer,
    email: Email,
    agent_email: str,
    delivery_id: int,
    config: SendConfig,
) -> D | None:
    """Claim, send and record one delivery. None if another sender holds it."""
    async with sessions() as session:
        claimed = await session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status == D.PENDING)
            .values(status=D.SENDING, attempts=Delivery.attempts + 1, updated_at=utcnow_naive())
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return None
        row = (
            await session.execute(
                select(Delivery.email, Delivery.recipient_id, Recipient.unsubscribed_at)
                .join(Recipient, Recipient.id == Delivery.recipient_id)
                .where(Delivery.id == delivery_id)
            )
        ).one()
        if row.unsubscribed_at is not None:  # unsubscribed after the send began
            await _record(session, delivery_id, D.SKIPPED, error="unsubscribed")
            return D.SKIPPED
        await session.commit()

    link = unsubscribe_url(
        config.public_base_url, config.unsubscribe_secret, row.recipient_id, email.campaign_id
    )
    html, text = personalise(email.html, email.text, link)
    outgoing = OutgoingEmail(row.email, email.subject, html, text, reply_to=agent_email)
    async with sessions() as session:
        try:
            message_id = await mailer.send(outgoing)
        except PermanentError as exc:
            await _record(session, delivery_id, D.FAILED, error=str(exc))
            return D.FAILED
        except TransientError as exc:
            await _record(session, delivery_id, D.PENDING, error=str(exc))  # not sent: free it
            raise
        await _record(session, delivery_id, D.SENT, message_id=message_id)
        return D.SENT


async def _record(
    session: AsyncSession,
    delivery_id: int,
    status: D,
    *,
    message_id: str | None = None,
    error: str | None = None,
) -> None:
    await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(status=status, provider_message_id=message_id, error=error)
    )
    await session.commit()


async def _fail_abandoned_claims(session: AsyncSession, email: Email, after: timedelta) -> None:
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.campaign_id == email.campaign_id,
            Delivery.cycle == email.cycle,
            Delivery.status == D.SENDING,
            Delivery.updated_at < utcnow_naive() - after,
        )
        .values(status=D.FAILED, error="sender stopped mid-send; not resent, it may have gone")
    )
    if result.rowcount:  # type: ignore[attr-defined]
        log.warning("send.abandoned_claims", count=result.rowcount)  # type: ignore[attr-defined]
