"""What every route depends on: the process's runtime, and an authenticated operator."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Query, Request

from shared.bootstrap import Runtime


def runtime(request: Request) -> Runtime:
    value: Runtime = request.app.state.runtime
    return value


def operator(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_operator: Annotated[str | None, Header(max_length=120)] = None,
) -> str:
    """The bearer token, compared in constant time; X-Operator names who acts, for the audit."""
    expected: str = request.app.state.api_token
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise HTTPException(
            401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    return x_operator or "operator"


RuntimeDep = Annotated[Runtime, Depends(runtime)]
Operator = Annotated[str, Depends(operator)]
Page = Annotated[int, Query(ge=1, le=1_000_000)]
"""A page number; bounded, since page x page_size becomes an SQL OFFSET that must fit 64 bits."""
