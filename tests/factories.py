"""Building test data in the database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.email_creation.app import EMAIL_STEP
from services.email_sender.app import handle_ready
from shared.adapters.db.models import Campaign, OutboxEvent, Recipient
from shared.bootstrap import Runtime
from shared.domain.clock import utcnow_naive
from shared.domain.events import StatusChange
from shared.domain.statuses import CampaignStatus as S
from shared.domain.statuses import SubStatus
from shared.domain.transitions import DATA_STEPS, Trigger
from shared.service_layer import sends
from shared.service_layer.transitions import fire


async def make_campaign(
    sessions: async_sessionmaker[AsyncSession], recipients: int = 2, **fields: Any
) -> int:
    values: dict[str, Any] = {
        "name": "Maple Street newsletter",
        "agent_name": "Ada Agent",
        "agent_email": "ada@agents.example",
        "address": "12 Maple Street, Springfield, IL 62704",
        "next_send_datetime": utcnow_naive() - timedelta(minutes=1),
        "cadence_days": 30,
    }
    values.update(fields)
    async with sessions() as session:
        campaign = Campaign(**values)
        campaign.recipients = [
            Recipient(email=f"owner{i}@homes.example", name=f"Owner {i}") for i in range(recipients)
        ]
        session.add(campaign)
        await session.commit()
        return campaign.id


async def load(sessions: async_sessionmaker[AsyncSession], campaign_id: int) -> Campaign:
    async with sessions() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        return campaign


async def history(
    sessions: async_sessionmaker[AsyncSession], campaign_id: int
) -> list[OutboxEvent]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent)
            .where(
                OutboxEvent.campaign_id == campaign_id, OutboxEvent.event_type == "STATUS_CHANGE"
            )
            .order_by(OutboxEvent.id)
        )
        return list(rows)


async def start(runtime: Runtime, **fields: Any) -> StatusChange:
    campaign_id = await make_campaign(runtime.sessions, market_area="Boise, ID", **fields)
    async with runtime.unit_of_work() as uow:
        event = await fire(uow, campaign_id, Trigger.SCHEDULE)
        await uow.commit()
    return event


async def set_ready(runtime: Runtime, campaign_id: int, *columns: str, **values: Any) -> None:
    async with runtime.sessions() as session:
        await session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(**{c: SubStatus.READY for c in columns}, **values)
        )
        await session.commit()


async def ready_to_create(runtime: Runtime, **fields: Any) -> StatusChange:
    event = await start(runtime, **fields)
    await set_ready(
        runtime,
        event.campaign_id,
        *DATA_STEPS,
        "home_report_analysis_status",
        campaign_status=S.READY_TO_CREATE_EMAIL,
        email_status=SubStatus.WAITING_FOR_DATA,
        intro="Hello.",
        mortgage_rate=6.1,
    )
    return event.model_copy(update={"to_status": S.READY_TO_CREATE_EMAIL})


async def make_send(
    runtime: Runtime,
    recipients: int = 3,
    controls: sends.Controls | None = None,
    **fields: Any,
) -> int:
    """A send with every recipient PENDING and its first batch queued for the sender."""
    event = await ready_to_create(runtime, recipients=recipients, **fields)
    await EMAIL_STEP.handle(event, runtime.unit_of_work("email-creation", event.event_id))
    ready = StatusChange.model_validate_json(
        (await history(runtime.sessions, event.campaign_id))[-1].payload
    )
    controls = controls or sends.Controls(batch_size=2, delay_ms=0, cooldown_seconds=0)
    await handle_ready(
        ready, runtime.unit_of_work("email-sender", ready.event_id), controls=controls
    )
    async with runtime.sessions() as session:
        send = await sends.find(session, event.campaign_id)
    assert send is not None
    return send.id
