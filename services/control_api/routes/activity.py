"""Activity: throughput per minute and queue depth over the last hour (the overview's charts),
and one campaign cycle's hand-offs stage by stage (its page's timings)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from services.control_api.deps import CampaignId, Cycle, Operator, RuntimeDep
from services.control_api.errors import OPERATOR_ERRORS, ApiError
from services.control_api.queue_watch import DepthSample
from shared.adapters.db.models import Campaign
from shared.domain.clock import UtcDatetime, utcnow_naive
from shared.views import activity

router = APIRouter(prefix="/api/v1", tags=["activity"], responses=OPERATOR_ERRORS)


class MinuteOut(BaseModel):
    at: UtcDatetime
    messages: int
    """Messages handled by any consumer in that minute."""
    emails: int
    """Emails sent in that minute."""


class Activity(BaseModel):
    per_minute: list[MinuteOut]
    queue_depth: list[DepthSample]
    """The control API's samples of every queue's depth, summed, oldest first (since it
    started)."""
    oldest_waiting_seconds: dict[str, float]
    """Queue → age of the oldest STATUS_CHANGE still waiting for its consumer (0: none)."""


class HandledOut(BaseModel):
    consumer: str
    handled_at: UtcDatetime
    seconds: float
    """From the event being written to the outbox to this consumer committing its work."""


class StageOut(BaseModel):
    to_status: str
    written_at: UtcDatetime
    published_at: UtcDatetime | None
    handled: list[HandledOut]
    receivers: list[str]
    """The consumers this status is sent to (none: it waits for an operator or a send)."""
    slowest_seconds: float | None


@router.get("/activity")
async def recent_activity(
    request: Request,
    runtime: RuntimeDep,
    _: Operator,
    minutes: Annotated[int, Query(ge=1, le=180, description="how far back")] = 60,
) -> Activity:
    now = utcnow_naive()
    async with runtime.sessions() as session:
        rows = await activity.per_minute(session, now, minutes)
        waiting = await activity.oldest_waiting(session, now)
    watch = getattr(request.app.state, "queue_watch", None)
    return Activity(
        per_minute=[MinuteOut(at=m.at, messages=m.messages, emails=m.emails) for m in rows],
        queue_depth=list(watch.samples) if watch else [],
        oldest_waiting_seconds=waiting,
    )


@router.get("/campaigns/{campaign_id:int}/handoffs")
async def campaign_handoffs(
    campaign_id: CampaignId, runtime: RuntimeDep, _: Operator, cycle: Cycle = None
) -> list[StageOut]:
    """Each STATUS_CHANGE of the cycle (default: the current one) and when each consumer that
    receives it finished with it."""
    async with runtime.sessions() as session:
        campaign = await session.get(Campaign, campaign_id)
        if campaign is None:
            raise ApiError(404, "not_found", f"campaign {campaign_id} does not exist")
        stages = await activity.handoffs(
            session, campaign_id, campaign.cycle if cycle is None else cycle
        )
    return [
        StageOut(
            to_status=s.to_status,
            written_at=s.written_at,
            published_at=s.published_at,
            handled=[HandledOut(**h.__dict__) for h in s.handled],
            receivers=s.receivers,
            slowest_seconds=s.slowest_seconds,
        )
        for s in stages
    ]
