"""Campaigns: the filterable list, one campaign's page, and its status actions."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.control_api.dashboard.client import Refused
from services.control_api.dashboard.web import ApiDep, redirect, render
from services.control_api.deps import CampaignId
from shared.domain.statuses import CampaignStatus, SubStatus
from shared.domain.transitions import SUB_STATUS_COLUMNS

router = APIRouter(prefix="/ui/campaigns", include_in_schema=False)

ACTIONS = {
    "approve": ("Approve", CampaignStatus.WAITING_FOR_MANUAL_APPROVAL),
    "reject": ("Reject", CampaignStatus.WAITING_FOR_MANUAL_APPROVAL),
    "retry": ("Retry", CampaignStatus.ERROR),
    "send_now": ("Send now", CampaignStatus.DORMANT),
}
"""The buttons a campaign's page offers, and the status in which each applies."""


def _flag(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


@router.get("", response_class=HTMLResponse)
async def campaign_list(
    request: Request,
    api: ApiDep,
    status: str | None = None,
    sub_status: str | None = None,
    error: str | None = None,
    paused: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 25,
) -> Response:
    filters = {"status": status, "sub_status": sub_status, "error": error, "paused": paused}
    result = await api.get(
        "/campaigns",
        status=status,
        sub_status=sub_status,
        error=_flag(error),
        paused=_flag(paused),
        page=page,
        page_size=page_size,
    )
    return render(
        request,
        "campaigns.html",
        nav="campaigns",
        result=result,
        filters=filters,
        pages=max(1, math.ceil(result["total"] / page_size)),
        page_size=page_size,
        statuses=list(CampaignStatus),
        sub_statuses=[f"{c}:{v}" for c in SUB_STATUS_COLUMNS for v in SubStatus],
    )


@router.get("/{campaign_id}", response_class=HTMLResponse)
async def campaign_page(campaign_id: CampaignId, request: Request, api: ApiDep) -> Response:
    campaign = await api.get(f"/campaigns/{campaign_id}")  # first: its 404 names the campaign
    handoffs = await api.get(f"/campaigns/{campaign_id}/handoffs")
    actions = [
        (action, label)
        for action, (label, applies) in ACTIONS.items()
        if campaign["campaign_status"] == applies
    ]
    slowest = max((s["slowest_seconds"] or 0 for s in handoffs), default=0)
    return render(
        request,
        "campaign.html",
        nav="campaigns",
        c=campaign,
        actions=actions,
        handoffs=handoffs,
        slowest=max(slowest, 0.001),
    )


@router.post("/{campaign_id}/actions/{action}")
async def campaign_action(
    campaign_id: CampaignId,
    action: Literal["approve", "reject", "retry", "send_now"],
    request: Request,
    api: ApiDep,
) -> Response:
    """The batch endpoint with one id: a refusal comes back with the API's reason."""
    back = f"/ui/campaigns/{campaign_id}"
    try:
        result = await api.post(f"/campaigns/actions/{action}", {"campaign_ids": [campaign_id]})
    except Refused as exc:
        return redirect(request, back, "error", exc.message)
    if result["refused"]:
        return redirect(request, back, "error", f"Refused: {result['refused'][0]['reason']}")
    label = ACTIONS[action][0]
    return redirect(request, back, "ok", f"{label}: done; its STATUS_CHANGE is queued.")
