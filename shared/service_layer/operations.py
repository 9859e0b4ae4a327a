"""Operator actions on campaigns, in the batch pattern of seed 002.

One call carries many campaign ids and one action; the primary change (the campaign's status)
and the secondary one it implies (its STATUS_CHANGE queued through the outbox) are written in
one transaction. Ids that do not qualify are reported back with the reason, not skipped
silently; unknown ids, or any error, roll the whole batch back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from shared.domain.errors import NotFound
from shared.domain.transitions import TransitionRefused, Trigger
from shared.service_layer import audit
from shared.service_layer.transitions import fire, retry
from shared.service_layer.unit_of_work import UnitOfWork


class UnknownCampaigns(NotFound):
    """Some ids of a batch do not exist; the whole batch is refused, nothing changes."""

    def __init__(self, ids: list[int]) -> None:
        super().__init__(f"no such campaign(s): {', '.join(map(str, ids))}; nothing was changed")
        self.ids = ids
        self.details = {"ids": ids}


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
    uow: UnitOfWork, action: str, campaign_ids: Iterable[int], *, actor: str | None = None
) -> BatchResult:
    """Apply `action` to every campaign; with an `actor`, audited in the same transaction."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; choose from {', '.join(ACTIONS)}")
    ids = sorted(set(campaign_ids))
    result = BatchResult()
    async with uow:
        known = await uow.campaigns.existing(ids)
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise UnknownCampaigns(unknown)
        for campaign_id in ids:  # a fixed order: concurrent batches cannot deadlock
            try:
                trigger = ACTIONS[action]
                if trigger is None:
                    await retry(uow, campaign_id)
                else:
                    await fire(uow, campaign_id, trigger)
            except TransitionRefused as exc:
                result.refused[campaign_id] = str(exc)
                continue
            result.updated.append(campaign_id)
        if actor is not None:
            detail = {"updated": len(result.updated), "refused": len(result.refused)}
            uow.add(*audit.entries(actor, action, campaign_ids=result.updated, detail=detail))
        await uow.commit()
    return result
