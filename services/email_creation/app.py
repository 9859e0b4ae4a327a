"""Email creation: build the cycle's newsletter exactly once, then await approval or sending.

Seed 000's duplicate-email race (two workers building the same campaign) is closed without a
lock status: the step column's compare-and-set lets one worker's result in, and the unique
(campaign_id, cycle) key on emails refuses a second row if anything ever slipped past it.
"""

from __future__ import annotations

import asyncio

from services.email_creation.builder import build_email
from shared.adapters.db.models import Campaign, Email
from shared.adapters.topology import TOPOLOGY
from shared.bootstrap import Runtime
from shared.consumer.consumer import run_consumers
from shared.service_layer.steps import Outcome, Step


async def build(campaign: Campaign) -> Outcome:
    built = build_email(campaign)
    email = Email(
        campaign_id=campaign.id,
        cycle=campaign.cycle,
        subject=built.subject,
        html=built.html,
        text=built.text,
    )
    return Outcome(rows=[email])


EMAIL_STEP = Step("email_status", build)


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    consumer = await runtime.step_consumer(TOPOLOGY.queue("email-creation"), EMAIL_STEP)
    await run_consumers([consumer], stop)
