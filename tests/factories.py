"""Building test data in the database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.clock import utcnow_naive
from shared.db.models import Campaign, OutboxEvent, Recipient


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
            .where(OutboxEvent.campaign_id == campaign_id)
            .order_by(OutboxEvent.id)
        )
        return list(rows)
