"""What an operator looks at: campaigns per status, deliveries, and every queue's depth."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from shared.adapters.db.models import Campaign, Delivery
from shared.adapters.topology import TOPOLOGY, Names, QueueSpec
from shared.domain.statuses import CampaignStatus, DeliveryStatus


@dataclass(frozen=True)
class QueueDepth:
    name: str
    visible: int
    in_flight: int
    delayed: int
    dead_letters: int


@dataclass
class Snapshot:
    campaigns: dict[CampaignStatus, int] = field(default_factory=dict)
    deliveries: dict[DeliveryStatus, int] = field(default_factory=dict)
    queues: list[QueueDepth] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return self.deliveries.get(DeliveryStatus.SENT, 0)


async def campaign_counts(session: Any) -> dict[CampaignStatus, int]:
    rows = await session.execute(
        select(Campaign.campaign_status, func.count()).group_by(Campaign.campaign_status)
    )
    return {status: count for status, count in rows}


async def delivery_counts(session: Any) -> dict[DeliveryStatus, int]:
    rows = await session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
    return {status: count for status, count in rows}


async def queue_depth(sqs: Any, names: Names, spec: QueueSpec) -> QueueDepth:
    attributes = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]

    async def read(queue_name: str) -> dict[str, str]:
        url = (await sqs.get_queue_url(QueueName=queue_name))["QueueUrl"]
        response = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=attributes)
        values: dict[str, str] = response["Attributes"]
        return values

    main, dlq = await asyncio.gather(read(names.queue(spec)), read(names.dlq(spec)))
    return QueueDepth(
        spec.name,
        int(main.get("ApproximateNumberOfMessages", 0)),
        int(main.get("ApproximateNumberOfMessagesNotVisible", 0)),
        int(main.get("ApproximateNumberOfMessagesDelayed", 0)),
        int(dlq.get("ApproximateNumberOfMessages", 0)),
    )


async def snapshot(sessions: Any, sqs: Any, names: Names) -> Snapshot:
    async with sessions() as session:
        campaigns = await campaign_counts(session)
        deliveries = await delivery_counts(session)
    queues = await asyncio.gather(*(queue_depth(sqs, names, q) for q in TOPOLOGY.queues))
    return Snapshot(campaigns, deliveries, list(queues))
