"""The read side of suppressions: which addresses no send will mail, and why."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.adapters.db.models import Suppression
from shared.domain.clock import UtcDatetime
from shared.domain.feedback import SuppressionReason
from shared.domain.suppressions import normalise


class SuppressionRow(BaseModel):
    email: str
    reason: SuppressionReason
    detail: str | None
    campaign_id: int | None
    delivery_id: int | None
    created_at: UtcDatetime
    lifted_at: UtcDatetime | None
    lifted_by: str | None


class SuppressionPage(BaseModel):
    page: int
    page_size: int
    total: int
    items: list[SuppressionRow]


def row_of(suppression: Suppression) -> SuppressionRow:
    return SuppressionRow(
        email=suppression.email,
        reason=suppression.reason,
        detail=suppression.detail,
        campaign_id=suppression.campaign_id,
        delivery_id=suppression.delivery_id,
        created_at=suppression.created_at,
        lifted_at=suppression.lifted_at,
        lifted_by=suppression.lifted_by,
    )


async def suppressions(
    session: AsyncSession,
    *,
    page: int = 1,
    page_size: int = 50,
    email: str | None = None,
    reason: SuppressionReason | None = None,
    lifted: bool = False,
) -> SuppressionPage:
    """Active suppressions, newest first (`lifted`: the lifted ones instead); `email` matches
    a part of the address."""
    page, page_size = max(page, 1), min(max(page_size, 1), 500)
    where: list[ColumnElement[bool]] = [
        Suppression.lifted_at.is_not(None) if lifted else Suppression.lifted_at.is_(None)
    ]
    if email:
        where.append(Suppression.email.contains(normalise(email), autoescape=True))
    if reason is not None:
        where.append(Suppression.reason == reason)
    total = int(await session.scalar(select(func.count()).where(*where)) or 0)
    rows = await session.scalars(
        select(Suppression)
        .where(*where)
        .order_by(Suppression.created_at.desc(), Suppression.email)
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return SuppressionPage(
        page=page, page_size=page_size, total=total, items=[row_of(s) for s in rows]
    )
