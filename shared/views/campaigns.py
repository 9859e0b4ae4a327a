"""The read side of campaigns: the queries behind the list, the counts and one campaign's page.

Queries only, on a session the caller opens; shaping for the API is the route's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.adapters.db.models import AuditEntry, Campaign, OutboxEvent, Recipient
from shared.domain.statuses import CampaignStatus, SubStatus
from shared.domain.transitions import SUB_STATUS_COLUMNS


@dataclass(frozen=True)
class CampaignFilter:
    status: CampaignStatus | None = None
    sub_status: tuple[str, SubStatus] | None = None
    """A sub-status column and the value it must have."""
    error: bool | None = None
    paused: bool | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.status is not None:
            where.append(Campaign.campaign_status == self.status)
        if self.sub_status is not None:
            column, value = self.sub_status
            where.append(getattr(Campaign, column) == value)
        if self.paused is not None:
            where.append(Campaign.paused.is_(self.paused))
        if self.error is not None:
            has_error = Campaign.error_reason.is_not(None)
            where.append(has_error if self.error else Campaign.error_reason.is_(None))
        return where


@dataclass(frozen=True)
class Counts:
    by_status: dict[CampaignStatus, int]
    by_sub_status: dict[str, dict[SubStatus, int]]

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


async def page_of(
    session: AsyncSession, wanted: CampaignFilter, *, page: int, page_size: int
) -> tuple[Sequence[Campaign], int]:
    """One page of the campaigns that match, in id order, and how many match in all."""
    where = wanted.conditions()
    total = await session.scalar(select(func.count()).select_from(Campaign).where(*where))
    rows = await session.scalars(
        select(Campaign)
        .where(*where)
        .order_by(Campaign.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return rows.all(), int(total or 0)


async def recipient_counts(session: AsyncSession, campaign_id: int) -> tuple[int, int]:
    """(recipients, of whom unsubscribed)."""
    row = (
        await session.execute(
            select(func.count(), func.count(Recipient.unsubscribed_at)).where(
                Recipient.campaign_id == campaign_id
            )
        )
    ).one()
    return int(row[0]), int(row[1])


async def counts(session: AsyncSession) -> Counts:
    """Campaigns in each status and each sub-status, from one grouped query."""
    columns = [getattr(Campaign, c) for c in SUB_STATUS_COLUMNS]
    rows = (
        await session.execute(
            select(Campaign.campaign_status, *columns, func.count()).group_by(
                Campaign.campaign_status, *columns
            )
        )
    ).all()
    by_status = dict.fromkeys(CampaignStatus, 0)
    by_sub = {c: dict.fromkeys(SubStatus, 0) for c in SUB_STATUS_COLUMNS}
    for status, *subs, count in rows:
        by_status[status] += count
        for column, value in zip(SUB_STATUS_COLUMNS, subs, strict=True):
            by_sub[column][value] += count
    return Counts(by_status, by_sub)


async def status_history(session: AsyncSession, campaign_id: int) -> Sequence[OutboxEvent]:
    """Every STATUS_CHANGE of the campaign, oldest first: its outbox rows."""
    rows = await session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.campaign_id == campaign_id, OutboxEvent.event_type == "STATUS_CHANGE")
        .order_by(OutboxEvent.id)
    )
    return rows.all()


async def audit_trail(session: AsyncSession, campaign_id: int) -> Sequence[AuditEntry]:
    rows = await session.scalars(
        select(AuditEntry).where(AuditEntry.campaign_id == campaign_id).order_by(AuditEntry.id)
    )
    return rows.all()
