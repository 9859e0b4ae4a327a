"""Delivering one recipient's copy, at most once.

The delivery is claimed (PENDING → SENDING, a compare-and-set), the recipient's subscription and
the address's suppression are checked at that moment, the email waits for its slot of the
account's sending rate, goes through SES, and the result is recorded (SENT with the provider's
message id, or FAILED with the error).

A claim left by a sender that died between claim and record is settled by SES's own record: the
configuration set's Send event (tagged with the delivery id) makes it SENT through the feedback
consumer. A claim with no Send event after the claim timeout was never accepted by SES, so it
is sent again (`resend_unconfirmed`); without Send events flowing it becomes FAILED instead,
never resent, because the email may have gone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from shared.adapters.db.models import Delivery, Email, Recipient, Suppression
from shared.adapters.db.rate_limiter import SharedRateLimiter
from shared.adapters.db.rows import affected
from shared.adapters.providers.mailer import Mailer, OutgoingEmail
from shared.consumer.outcomes import Retry
from shared.domain.clock import utcnow_naive
from shared.domain.errors import PermanentError, Throttled, TransientError, Unavailable
from shared.domain.newsletter import personalise
from shared.domain.sends import ABANDONED_CLAIM
from shared.domain.statuses import DeliveryStatus as D
from shared.domain.suppressions import skip_reason
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
    resend_unconfirmed: bool = True
    """Resend a claim whose Send event has not come within `claim_timeout` (needs the
    configuration set's Send events); False: fail it."""
    max_throttles: int = 20
    """Throttled replies for one email before it is handed back to wait for a later batch."""


async def deliver_one(
    sessions: async_sessionmaker[AsyncSession],
    mailer: Mailer,
    email: Email,
    agent_email: str,
    delivery_id: int,
    config: SendConfig,
    dependency_down: Callable[[], Awaitable[bool]] | None = None,
    limiter: SharedRateLimiter | None = None,
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
                select(
                    Delivery.email,
                    Delivery.recipient_id,
                    Recipient.unsubscribed_at,
                    Suppression.reason.label("suppressed"),
                )
                .join(Recipient, Recipient.id == Delivery.recipient_id)
                .outerjoin(
                    Suppression,
                    and_(
                        Suppression.email == func.lower(func.trim(Delivery.email)),
                        Suppression.lifted_at.is_(None),
                    ),
                )
                .where(Delivery.id == delivery_id)
            )
        ).one()
        if row.unsubscribed_at is not None:  # unsubscribed after the send began
            await _record(session, delivery_id, D.SKIPPED, attempts=0, error="unsubscribed")
            return D.SKIPPED
        if row.suppressed is not None:  # bounced or complained after the send began
            why = skip_reason(row.suppressed)
            await _record(session, delivery_id, D.SKIPPED, attempts=0, error=why)
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
                message_id = await _send_within_rate(mailer, outgoing, limiter, config)
    except PermanentError as exc:
        status, error = D.FAILED, str(exc)
    except TransientError as exc:
        if dependency_down is not None and await dependency_down():
            await _release(sessions, delivery_id, attempts, str(exc))
            raise Retry("the email provider's circuit breaker is open", delay=60) from exc
        status, error = D.FAILED, f"gave up after {attempts} attempts: {exc}"
    except (Retry, Unavailable):  # the breaker open, the limiter or the endpoint unreachable:
        await _release(sessions, delivery_id, attempts, None)  # nothing went out; it waits
        raise
    async with sessions() as session:
        await _record(
            session, delivery_id, status, attempts=attempts, message_id=message_id, error=error
        )
    return status


async def _send_within_rate(
    mailer: Mailer, outgoing: OutgoingEmail, limiter: SharedRateLimiter | None, config: SendConfig
) -> str:
    """Send in the account's next free slot; when SES throttles anyway, everyone slows down and
    this email tries again, which costs none of its attempts."""
    for _ in range(config.max_throttles):
        if limiter is not None:
            try:
                await limiter.acquire()
            except Exception as exc:  # the database, most likely: nothing has gone out
                raise Retry(f"the shared rate limiter is unavailable: {exc}", delay=2) from exc
        try:
            return await mailer.send(outgoing)
        except Throttled as exc:
            log.warning("send.throttled", error=str(exc))
            if limiter is not None:
                await limiter.slow_down()
            else:
                await asyncio.sleep(1.0)
    raise Retry("SES kept throttling: the batch waits", delay=5)


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


async def resolve_abandoned_claims(
    session: AsyncSession, send_id: int, after: timedelta, resend: bool
) -> int:
    """Claims older than `after` whose Send event never came: SES has no record of accepting
    them, so they go back to PENDING to be sent (or, without Send events, FAILED)."""
    values = (
        {"status": D.PENDING, "error": "claim expired with no Send event from SES: resent"}
        if resend
        else {"status": D.FAILED, "error": ABANDONED_CLAIM}
    )
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.send_id == send_id,
            Delivery.status == D.SENDING,
            Delivery.updated_at < utcnow_naive() - after,
        )
        .values(**values)
    )
    count = affected(result)
    if count:
        log.warning("send.abandoned_claims", count=count, resent=resend)
    return count
