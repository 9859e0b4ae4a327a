"""The overview: pipeline state with the manual resume, the last hour's throughput and queue
depth as charts, breakers, queues, campaign counts."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.control_api.dashboard.client import Api
from services.control_api.dashboard.web import ApiDep, act, fragment, render

router = APIRouter(prefix="/ui", include_in_schema=False)


async def _state(api: Api) -> dict[str, Any]:
    status, queues, counts, activity = await asyncio.gather(
        api.get("/queue-management/status"),
        api.get("/queues"),
        api.get("/campaigns/counts"),
        api.get("/activity"),
    )
    holds = {q["name"]: q for q in status["queues"]}
    return {
        "status": status,
        "queues": [{**q, "hold": holds.get(q["name"])} for q in queues],
        "counts": counts,
        "activity": activity,
        "open_breakers": [b["name"] for b in status["breakers"] if b["state"] == "OPEN"],
    }


@router.get("", response_class=HTMLResponse)
async def overview(request: Request, api: ApiDep) -> Response:
    return render(request, "overview.html", nav="overview", **await _state(api))


@router.get("/parts/overview", response_class=HTMLResponse)
async def overview_part(request: Request, api: ApiDep) -> Response:
    return fragment(request, "_overview.html", **await _state(api))


@router.post("/resume")
async def resume(request: Request, api: ApiDep) -> Response:
    return await act(
        request,
        "/ui",
        api.post("/queue-management/resume"),
        lambda r: (
            f"Pipeline resumed: queues RUNNING, {r['campaigns_resumed']} campaign(s) and "
            f"{r['sends_resumed']} send(s) resumed."
        ),
    )


@router.post("/breakers/{name}/reset")
async def reset_breaker(name: str, request: Request, api: ApiDep) -> Response:
    return await act(
        request,
        "/ui",
        api.post(f"/queue-management/breakers/{name}/reset"),
        lambda r: (
            f"Breaker {r['name']} reset: {r['state']}. Nothing was resumed; "
            "press Resume pipeline when you are ready."
        ),
    )
