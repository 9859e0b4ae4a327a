"""The audit log: every operator action, written in the transaction of the change it records."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from shared.adapters.db.models import AuditEntry

log = structlog.get_logger(__name__)


def record(
    session: AsyncSession,
    actor: str,
    action: str,
    *,
    campaign_ids: Iterable[int] = (),
    send_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    ids: list[int | None] = [*campaign_ids] or [None]
    for campaign_id in ids:
        session.add(
            AuditEntry(
                actor=actor,
                action=action,
                campaign_id=campaign_id,
                send_id=send_id,
                detail=detail,
            )
        )
    log.info("audit", actor=actor, action=action, campaigns=ids, send_id=send_id, detail=detail)
