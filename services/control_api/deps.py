"""What every route depends on: the process's runtime, and an authenticated operator."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.control_api.gatekeeper import bearer_ok
from shared.bootstrap import Runtime
from shared.domain.operators import from_header


def runtime(request: Request) -> Runtime:
    value: Runtime = request.app.state.runtime
    return value


bearer = HTTPBearer(auto_error=False, description="the operator token (DRIPR_API_TOKEN)")


def operator(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    x_operator: Annotated[
        str | None,
        Header(max_length=1200, description="who acts; UTF-8, percent-encoded (RFC 3986)"),
    ] = None,
) -> str:
    """The bearer token (the gatekeeper has checked it before any body was read; checked again
    here, where the route declares it); X-Operator names who acts, for the audit."""
    given = f"Bearer {credentials.credentials}" if credentials is not None else None
    if not bearer_ok(given, request.app.state.api_token):
        raise HTTPException(
            401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    return (from_header(x_operator) if x_operator else "") or "operator"


MAX_ID = 2**53 - 1
"""The largest id accepted (422 beyond): within what MySQL's BIGINT and SQLite store, and the
largest integer every JSON client reads exactly (a double's 53 bits)."""
CampaignId = Annotated[int, Path(ge=1, le=MAX_ID, description="a campaign's id")]
SendId = Annotated[int, Path(ge=1, le=MAX_ID, description="a send's id")]
Cycle = Annotated[int | None, Query(ge=0, le=2**31 - 1, description="a campaign cycle")]

RuntimeDep = Annotated[Runtime, Depends(runtime)]
Operator = Annotated[str, Depends(operator)]
Page = Annotated[int, Query(ge=1, le=1_000_000)]
"""A page number; bounded, since page x page_size becomes an SQL OFFSET that must fit 64 bits."""
