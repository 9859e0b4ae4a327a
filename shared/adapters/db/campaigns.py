"""The campaign rows in SQL: snapshots under a row lock, and changes only by compare-and-set.

Beside them, the pipeline switch (one row) the scheduler reads before starting cycles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.adapters.db.models import Campaign, PipelineStateRow
from shared.adapters.db.rows import affected
from shared.domain.statuses import CampaignStatus, PipelineState
from shared.domain.transitions import SUB_STATUS_COLUMNS, Snapshot

_SNAPSHOT = (
    Campaign.campaign_status,
    Campaign.cycle,
    Campaign.next_send_datetime,
    Campaign.cadence_days,
    Campaign.requires_approval,
    Campaign.error_reason,
    Campaign.error_from_status,
    *(getattr(Campaign, column) for column in SUB_STATUS_COLUMNS),
)


class SqlCampaigns:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, campaign_id: int) -> Campaign | None:
        return await self._session.get(Campaign, campaign_id, populate_existing=True)

    async def lock(self, campaign_id: int) -> Snapshot | None:
        query = select(*_SNAPSHOT).where(Campaign.id == campaign_id).with_for_update()
        row = (await self._session.execute(query)).one_or_none()
        if row is None:
            return None
        return Snapshot.of(row)

    async def compare_and_set(
        self,
        campaign_id: int,
        *,
        status: CampaignStatus | None,
        cycle: int,
        expect: Mapping[str, Any],
        values: Mapping[str, Any],
    ) -> bool:
        conditions = [Campaign.id == campaign_id, Campaign.cycle == cycle]
        if status is not None:
            conditions.append(Campaign.campaign_status == status)
        conditions += [getattr(Campaign, column) == value for column, value in expect.items()]
        result = await self._session.execute(
            update(Campaign)
            .where(*conditions)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return affected(result) == 1

    async def existing(self, campaign_ids: Iterable[int]) -> set[int]:
        ids = list(campaign_ids)
        found = await self._session.scalars(select(Campaign.id).where(Campaign.id.in_(ids)))
        return set(found.all())

    async def due(self, now: datetime, limit: int) -> list[int]:
        query = (
            select(Campaign.id)
            .where(
                Campaign.campaign_status == CampaignStatus.DORMANT,
                Campaign.next_send_datetime <= now,
            )
            .order_by(Campaign.next_send_datetime, Campaign.id)
            .limit(limit)
        )
        return list((await self._session.scalars(query)).all())


class SqlPipeline:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def state(self) -> PipelineState:
        row = await self._session.get(PipelineStateRow, 1, populate_existing=True)
        return row.state if row is not None else PipelineState.RUNNING
