"""Sends: progress, recipients, pause, resume, cancel and controls (the sender's functions)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.control_api.deps import CampaignId, Cycle, Operator, Page, RuntimeDep, SendId
from services.control_api.errors import OPERATOR_ERRORS, ApiError
from shared.domain.statuses import DeliveryStatus
from shared.service_layer import sends
from shared.views import sends as send_views

router = APIRouter(prefix="/api/v1", tags=["sends"], responses=OPERATOR_ERRORS)


@router.get("/campaigns/{campaign_id:int}/send")
async def campaign_send(
    campaign_id: CampaignId, runtime: RuntimeDep, _: Operator, cycle: Cycle = None
) -> send_views.SendProgress:
    async with runtime.sessions() as session:
        send = await sends.find(session, campaign_id, cycle)
        if send is None:
            raise ApiError(404, "not_found", f"campaign {campaign_id} has no send yet")
        return await send_views.progress(session, send.id)


@router.get("/sends/{send_id:int}")
async def send_progress(
    send_id: SendId, runtime: RuntimeDep, _: Operator
) -> send_views.SendProgress:
    async with runtime.sessions() as session:
        return await send_views.progress(session, send_id)


@router.get("/sends/{send_id:int}/recipients")
async def send_recipients(
    send_id: SendId,
    runtime: RuntimeDep,
    _: Operator,
    page: Page = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    status: DeliveryStatus | None = None,
) -> send_views.RecipientPage:
    async with runtime.sessions() as session:
        return await send_views.recipients(
            session, send_id, page=page, page_size=page_size, status=status
        )


@router.post("/sends/{send_id:int}/pause")
async def pause_send(
    send_id: SendId, runtime: RuntimeDep, who: Operator
) -> send_views.SendProgress:
    return await sends.pause(runtime.unit_of_work(), send_id, who)


@router.post("/sends/{send_id:int}/resume")
async def resume_send(
    send_id: SendId, runtime: RuntimeDep, who: Operator
) -> send_views.SendProgress:
    return await sends.resume(runtime.unit_of_work(), send_id, who)


@router.post("/sends/{send_id:int}/cancel")
async def cancel_send(
    send_id: SendId, runtime: RuntimeDep, who: Operator
) -> send_views.SendProgress:
    return await sends.cancel(runtime.unit_of_work(), send_id, who)


@router.patch("/sends/{send_id:int}/controls")
async def send_controls(
    send_id: SendId, body: sends.ControlChanges, runtime: RuntimeDep, who: Operator
) -> send_views.SendProgress:
    if not body.model_dump(exclude_none=True):
        raise ApiError(422, "invalid_request", "give batch_size, delay_ms or cooldown_seconds")
    return await sends.change_controls(runtime.unit_of_work(), send_id, body, who)
