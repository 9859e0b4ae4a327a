"""Dead letters: every DLQ's depth, a peek inside one, and selective redrive after a preview.

A redrive is always previewed first: the form runs the API's dry run and shows what would be
redriven; only the confirm button on that preview sends `dry_run: false`.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.control_api.dashboard.client import Refused
from services.control_api.dashboard.web import ApiDep, redirect, render

router = APIRouter(prefix="/ui/dlq", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
async def dlq_list(request: Request, api: ApiDep) -> Response:
    return render(request, "dlqs.html", nav="dlq", queues=await api.get("/queues"))


@router.get("/{queue}", response_class=HTMLResponse)
async def dlq_queue(
    queue: str, request: Request, api: ApiDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> Response:
    letters = await api.get(f"/queues/{quote(queue, safe='')}/dlq", limit=limit)
    return render(
        request,
        "dlq.html",
        nav="dlq",
        queue=queue,
        letters=letters,
        limit=limit,
        wanted={},
        preview=None,
    )


def _number(raw: str, kind: type[int] | type[float]) -> int | float | None:
    raw = raw.strip()
    return kind(raw) if raw else None


@router.post("/{queue}/redrive", response_class=HTMLResponse)
async def dlq_redrive(
    queue: str,
    request: Request,
    api: ApiDep,
    campaign_id: Annotated[str, Form()] = "",
    error_contains: Annotated[str, Form()] = "",
    older_than_seconds: Annotated[str, Form()] = "",
    limit: Annotated[str, Form()] = "100",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    back = f"/ui/dlq/{quote(queue, safe='')}"
    wanted = {
        "campaign_id": campaign_id,
        "error_contains": error_contains,
        "older_than_seconds": older_than_seconds,
        "limit": limit,
    }
    try:
        body: dict[str, Any] = {
            "campaign_id": _number(campaign_id, int),
            "error_contains": error_contains.strip() or None,
            "older_than_seconds": _number(older_than_seconds, float),
            "limit": _number(limit, int) or 100,
            "dry_run": confirm != "yes",
        }
    except ValueError:
        return redirect(request, back, "error", "campaign, age and limit must be numbers")
    try:
        result = await api.post(f"/queues/{quote(queue, safe='')}/dlq/redrive", body)
    except Refused as exc:
        return redirect(request, back, "error", exc.message)
    if not result["dry_run"]:
        skipped = len(result["skipped"])
        text = f"Redrove {result['redriven']} message(s) from {queue}'s DLQ"
        return redirect(request, back, "ok", text + (f"; {skipped} skipped." if skipped else "."))
    return render(
        request,
        "dlq.html",
        nav="dlq",
        queue=queue,
        letters=None,
        limit=20,
        wanted=wanted,
        preview=result,
    )
