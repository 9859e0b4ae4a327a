"""Delivering one recipient's copy, at most once.

The delivery is claimed (PENDING → SENDING, a compare-and-set), the recipient's subscription is
checked at that moment, the email goes through SES, and the result is recorded (SENT with the
provider's message id, or FAILED with the error). A claim left by a sender that died between
claim and record is never sent again, because the email may have gone: it becomes FAILED.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from shared.adapters.db.models import Delivery, Email, Recipient
from shared.adapters.db.rows import affected
from shared.adapters.providers.mailer import Mailer, OutgoingEmail
from shared.consumer.outcomes import Retry
from shared.domain.clock import utcnow_naive
from shared.domain.errors import PermanentError, TransientError
from shared.domain.newsletter import personalise
from shared.domain.statuses import DeliveryStatus as D
from shared.domain.unsubscribe import unsubscribe_url

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SendConfig:
    public_base_url: str
    unsubscribe_secret: str
    claim_timeout: timedelta = timedelta(minutes=5)
    max_attempts: int = 3
    retry_base_seconds: float = 0.5
    postal_address: str = ""


async def deliver_one(
    sessions: async_sessionmaker[AsyncSession],
    mailer: Mailer,
    email: Email,
    agent_email: str,
    delivery_id: int,
    config: SendConfig,
    dependency_down: Callable[[], Awaitable[bool]] | None = None,
) -> D | None:
    """Claim, send and record one delivery. None if it was not PENDING (someone has it).

    While the email provider's breaker is open, a recipient is handed back (PENDING) rather
    than failed: the outage is the provider's, and the send resumes with it.
    """
    async with sessions() as session:
        claimed = await session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status == D.PENDING)
            .values(status=D.SENDING, updated_at=utcnow_naive())
        )
        if affected(claimed) != 1:
            return None
        row = (
            await session.execute(
                select(Delivery.email, Delivery.recipient_id, Recipient.unsubscribed_at)
                .join(Recipient, Recipient.id == Delivery.recipient_id)
                .where(Delivery.id == delivery_id)
            )
        ).one()
        if row.unsubscribed_at is not None:  # unsubscribed after the send began
            await _record(session, delivery_id, D.SKIPPED, attempts=0, error="unsubscribed")
            return D.SKIPPED
        await session.commit()

    link = unsubscribe_url(
        config.public_base_url, config.unsubscribe_secret, row.recipient_id, email.campaign_id
    )
    html, text = personalise(email.html, email.text, link, config.postal_address)
    outgoing = OutgoingEmail(
        row.email,
        email.subject,
        html,
        text,
        reply_to=agent_email,
        unsubscribe_url=link,
        tags={
            "campaign": str(email.campaign_id),
            "cycle": str(email.cycle),
            "delivery": str(delivery_id),
        },
    )
    attempts = 0
    message_id: str | None = None
    error: str | None = None
    status = D.SENT
    try:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(config.max_attempts),
            wait=wait_exponential(multiplier=config.retry_base_seconds, max=30),
            retry=retry_if_exception_type(TransientError),
            reraise=True,
        ):
            with attempt:
                attempts += 1
                message_id = await mailer.send(outgoing)
    except PermanentError as exc:
        status, error = D.FAILED, str(exc)
    except TransientError as exc:
        if dependency_down is not None and await dependency_down():
            await _release(sessions, delivery_id, attempts, str(exc))
            raise Retry("the email provider's circuit breaker is open", delay=60) from exc
        status, error = D.FAILED, f"gave up after {attempts} attempts: {exc}"
    except Retry:  # the breaker was open already: this recipient waits for the resume
        await _release(sessions, delivery_id, attempts, None)
        raise
    async with sessions() as session:
        await _record(
            session, delivery_id, status, attempts=attempts, message_id=message_id, error=error
        )
    return status


async def _release(
    sessions: async_sessionmaker[AsyncSession], delivery_id: int, attempts: int, error: str | None
) -> None:
    async with sessions() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status == D.SENDING)
            .values(status=D.PENDING, attempts=Delivery.attempts + attempts, error=error)
        )
        await session.commit()


async def _record(
    session: AsyncSession,
    delivery_id: int,
    status: D,
    *,
    attempts: int,
    message_id: str | None = None,
    error: str | None = None,
) -> None:
    await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(
            status=status,
            attempts=Delivery.attempts + attempts,
            provider_message_id=message_id,
            error=error,
            sent_at=utcnow_naive() if status is D.SENT else None,
        )
    )
    await session.commit()


async def fail_abandoned_claims(session: AsyncSession, send_id: int, after: timedelta) -> int:
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.send_id == send_id,
            Delivery.status == D.SENDING,
            Delivery.updated_at < utcnow_naive() - after,
        )
        .values(status=D.FAILED, error="sender stopped mid-send; not resent, it may have gone")
    )
    count = affected(result)
    if count:
        log.warning("send.abandoned_claims", count=count)
    return count
