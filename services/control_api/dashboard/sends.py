"""A send's page: live progress, Pause / Resume / Cancel, controls, recipients page by page."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.control_api.dashboard.client import Api
from services.control_api.dashboard.web import ApiDep, act, fragment, redirect, render
from services.control_api.deps import SendId
from shared.domain.statuses import DeliveryStatus

router = APIRouter(prefix="/ui", include_in_schema=False)

PAGE_SIZE = 25


async def _recipients(api: Api, send_id: SendId, page: int, status: str | None) -> dict[str, Any]:
    result = await api.get(
        f"/sends/{send_id}/recipients", page=page, page_size=PAGE_SIZE, status=status or None
    )
    return {
        "recipients": result,
        "pages": max(1, math.ceil(result["total"] / PAGE_SIZE)),
        "status_filter": status or "",
    }


@router.get("/sends/{send_id}", response_class=HTMLResponse)
async def send_page(
    send_id: SendId,
    request: Request,
    api: ApiDep,
    page: Annotated[int, Query(ge=1)] = 1,
    status: DeliveryStatus | None = None,
) -> Response:
    progress = await api.get(f"/sends/{send_id}")
    campaign = await api.get(f"/campaigns/{progress['campaign_id']}")
    return render(
        request,
        "send.html",
        nav="campaigns",
        p=progress,
        campaign=campaign,
        statuses=list(DeliveryStatus),
        **await _recipients(api, send_id, page, status),
    )


@router.get("/parts/sends/{send_id}", response_class=HTMLResponse)
async def send_part(send_id: SendId, request: Request, api: ApiDep) -> Response:
    return fragment(request, "_send.html", p=await api.get(f"/sends/{send_id}"))


@router.get("/parts/sends/{send_id}/recipients", response_class=HTMLResponse)
async def recipients_part(
    send_id: SendId,
    request: Request,
    api: ApiDep,
    page: Annotated[int, Query(ge=1)] = 1,
    status: DeliveryStatus | None = None,
) -> Response:
    return fragment(
        request,
        "_recipients.html",
        p={"send_id": send_id},
        **await _recipients(api, send_id, page, status),
    )


@router.post("/sends/{send_id}/controls")
async def send_controls(
    send_id: SendId,
    request: Request,
    api: ApiDep,
    batch_size: Annotated[str, Form()] = "",
    delay_ms: Annotated[str, Form()] = "",
    cooldown_seconds: Annotated[str, Form()] = "",
) -> Response:
    """Blank fields are left as they are; the API validates the rest and says what is wrong."""
    back = f"/ui/sends/{send_id}"
    fields = {"batch_size": batch_size, "delay_ms": delay_ms, "cooldown_seconds": cooldown_seconds}
    body: dict[str, Any] = {}
    for name, raw in fields.items():
        if raw.strip():
            try:
                body[name] = int(raw)
            except ValueError:
                return redirect(request, back, "error", f"{name} must be a whole number")
    return await act(
        request,
        back,
        api.patch(f"/sends/{send_id}/controls", body),
        lambda p: (
            f"Controls saved: batches of {p['batch_size']}, {p['delay_ms']} ms between emails, "
            f"{p['cooldown_seconds']} s between batches; the next batch uses them."
        ),
    )


@router.post("/sends/{send_id}/{action}")
async def send_action(
    send_id: SendId,
    action: Literal["pause", "resume", "cancel"],
    request: Request,
    api: ApiDep,
) -> Response:
    return await act(
        request,
        f"/ui/sends/{send_id}",
        api.post(f"/sends/{send_id}/{action}"),
        lambda p: f"Send {send_id} is now {p['status']}.",
    )
