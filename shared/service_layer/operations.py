"""Operator actions on campaigns, in the batch pattern of seed 002.

One call carries many campaign ids and one action; the primary change (the campaign's status)
and the secondary one it implies (its STATUS_CHANGE queued through the outbox) are written in
one transaction. Ids that do not qualify are reported back with the reason, not skipped
silently; unknown ids, or any error, roll the whole batch back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.adapters.db.models import Campaign
from shared.adapters.db.uow import UnitOfWork
from shared.service_layer.transitions import TransitionRefused, Trigger, fire, retry


class UnknownCampaigns(LookupError):
    def __init__(self, ids: list[int]) -> None:
        super().__init__(f"no such campaign(s): {', '.join(map(str, ids))}")
        self.ids = ids


@dataclass
class BatchResult:
    updated: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)

    @property
    def queued_count(self) -> int:
        """Every updated campaign had its STATUS_CHANGE queued in the outbox."""
        return len(self.updated)


ACTIONS: dict[str, Trigger | None] = {
    "approve": Trigger.APPROVE,
    "reject": Trigger.REJECT,
    "send_now": Trigger.SEND_NOW,
    "retry": None,
}


async def apply_batch(
    uow: UnitOfWork,
    action: str,
    campaign_ids: Iterable[int],
    *,
    on_commit: Callable[[AsyncSession, BatchResult], None] | None = None,
) -> BatchResult:
    """Apply `action` to every campaign; `on_commit` adds to the same transaction (the audit)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; choose from {', '.join(ACTIONS)}")
    ids = sorted(set(campaign_ids))
    result = BatchResult()
    async with uow:
        known = set(
            (await uow.session.scalars(select(Campaign.id).where(Campaign.id.in_(ids)))).all()
        )
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise UnknownCampaigns(unknown)
        for campaign_id in ids:  # a fixed order: concurrent batches cannot deadlock
            try:
                trigger = ACTIONS[action]
                if trigger is None:
                    await retry(uow.session, campaign_id)
                else:
                    await fire(uow.session, campaign_id, trigger)
            except TransitionRefused as exc:
                result.refused[campaign_id] = str(exc)
                continue
            result.updated.append(campaign_id)
        if on_commit is not None:
            on_commit(uow.session, result)
        await uow.commit()
    return result
