"""Email sender: deliver the cycle's email to every subscribed recipient, then end the cycle.

Ending the cycle is the step's READY: the transition table takes the campaign back to DORMANT
with the next send scheduled by its cadence and every sub-status reset.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.topology import TOPOLOGY
from services.email_sender.delivery import SendConfig, deliver_all
from shared.bootstrap import Runtime
from shared.bus.outcomes import Retry
from shared.db.models import Email
from shared.db.uow import UnitOfWork
from shared.events import StatusChange
from shared.providers.factory import open_mailer
from shared.providers.mailer import Mailer
from shared.runner import run_consumers
from shared.steps import finish_step, mark_failed, pending_campaign

log = structlog.get_logger(__name__)
STEP = "send_status"


async def handle_send(
    event: StatusChange,
    uow: UnitOfWork,
    *,
    sessions: async_sessionmaker[AsyncSession],
    mailer: Mailer,
    config: SendConfig,
) -> None:
    async with uow:
        campaign = await pending_campaign(uow, event, STEP)
        email = await uow.session.scalar(
            select(Email).where(Email.campaign_id == event.campaign_id, Email.cycle == event.cycle)
        )
    if campaign is None:
        log.info("step.not_pending", step=STEP)
        return
    if email is None:
        async with uow:
            await finish_step(uow, event, STEP, error="no email was built for this cycle")
        return
    if not await deliver_all(sessions, mailer, email, campaign.agent_email, config):
        raise Retry("another sender still holds deliveries of this cycle", delay=30)
    async with uow:
        await finish_step(uow, event, STEP)


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    settings = runtime.settings
    config = SendConfig(
        settings.public_base_url,
        settings.unsubscribe_secret,
        claim_timeout=timedelta(seconds=settings.send_claim_timeout_seconds),
    )
    handler = partial(
        handle_send, sessions=runtime.sessions, mailer=await open_mailer(runtime), config=config
    )
    consumer = await runtime.consumer(
        TOPOLOGY.queue("email-sender"), {StatusChange: handler}, on_give_up=mark_failed(STEP)
    )
    await run_consumers([consumer], stop)
