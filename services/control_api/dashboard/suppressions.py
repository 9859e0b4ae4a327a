"""Suppressed addresses: why SES's feedback took each off every list, and lifting one."""

from __future__ import annotations

import math
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.control_api.dashboard.web import ApiDep, act, render
from shared.domain.feedback import SuppressionReason

router = APIRouter(prefix="/ui/suppressions", include_in_schema=False)

PAGE_SIZE = 50


@router.get("", response_class=HTMLResponse)
async def suppression_list(
    request: Request,
    api: ApiDep,
    page: Annotated[int, Query(ge=1)] = 1,
    email: Annotated[str, Query(max_length=320)] = "",
    reason: SuppressionReason | None = None,
    lifted: bool = False,
) -> Response:
    result = await api.get(
        "/suppressions",
        page=page,
        page_size=PAGE_SIZE,
        email=email.strip() or None,
        reason=reason.value if reason else None,
        lifted="true" if lifted else None,
    )
    return render(
        request,
        "suppressions.html",
        nav="suppressions",
        result=result,
        pages=max(1, math.ceil(result["total"] / PAGE_SIZE)),
        email=email,
        reason=reason.value if reason else "",
        lifted=lifted,
        reasons=[r.value for r in SuppressionReason],
    )


@router.post("/{email}/lift")
async def lift(email: str, request: Request, api: ApiDep) -> Response:
    return await act(
        request,
        "/ui/suppressions",
        api.delete(f"/suppressions/{quote(email, safe='@')}"),
        lambda row: f"{row['email']} is no longer suppressed: the next send mails it again.",
    )
