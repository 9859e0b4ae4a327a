"""The audit log: every operator action, written in the transaction of the change it records."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from shared.adapters.db.models import AuditEntry

log = structlog.get_logger(__name__)


def entries(
    actor: str,
    action: str,
    *,
    campaign_ids: Iterable[int] = (),
    send_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> list[AuditEntry]:
    """One entry per campaign the action touched (one with no campaign if none)."""
    ids: list[int | None] = [*campaign_ids] or [None]
    log.info("audit", actor=actor, action=action, campaigns=ids, send_id=send_id, detail=detail)
    return [
        AuditEntry(actor=actor, action=action, campaign_id=i, send_id=send_id, detail=detail)
        for i in ids
    ]


def record(
    session: AsyncSession,
    actor: str,
    action: str,
    *,
    campaign_ids: Iterable[int] = (),
    send_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """`entries`, added to the caller's session."""
    session.add_all(
        entries(actor, action, campaign_ids=campaign_ids, send_id=send_id, detail=detail)
    )
