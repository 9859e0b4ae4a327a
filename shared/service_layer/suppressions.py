"""Lifting a suppression: an operator's decision that an address may be mailed again."""

from __future__ import annotations

from sqlalchemy import select

from shared.adapters.db.models import Suppression
from shared.adapters.db.uow import SqlUnitOfWork
from shared.domain.clock import utcnow_naive
from shared.domain.errors import NotFound
from shared.domain.suppressions import normalise
from shared.service_layer import audit
from shared.views.suppressions import SuppressionRow, row_of


class SuppressionNotFound(NotFound):
    pass


async def lift(uow: SqlUnitOfWork, email: str, actor: str = "operator") -> SuppressionRow:
    """The next send mails the address again. The row stays (lifted), so the record of why it
    was suppressed survives and soft bounces count afresh from now."""
    key = normalise(email)
    async with uow:
        suppression = await uow.session.scalar(
            select(Suppression)
            .where(Suppression.email == key, Suppression.lifted_at.is_(None))
            .with_for_update()
        )
        if suppression is None:
            raise SuppressionNotFound(f"{key} is not suppressed")
        suppression.lifted_at, suppression.lifted_by = utcnow_naive(), actor
        audit.record(
            uow.session,
            actor,
            "lift_suppression",
            campaign_ids=[suppression.campaign_id] if suppression.campaign_id else [],
            detail={"email": key, "reason": suppression.reason.value},
        )
        await uow.commit()
        return row_of(suppression)
