"""Every error the API returns is JSON with a code and a message a person can act on.

Domain errors are mapped by their base class (shared/domain/errors.py), so a new error type
needs no handler here: `NotFound` is 404, `Refused` 409, `InvalidInput` 422, and a
`DependencyError` that reaches a route 503; so is the database or the AWS endpoint being
unreachable (an outage: the request may be tried again when it is over).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException
from starlette.routing import Match, Route

from shared.adapters.reachability import unreachable
from shared.domain.errors import DependencyError, InvalidInput, NotFound, Refused


class Problem(BaseModel):
    field: str
    problem: str


class ErrorOut(BaseModel):
    """Every error's body: a code to branch on, a message a person can act on."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(examples=["conflict"])
    message: str = Field(examples=["campaign 7 is WAITING_FOR_DATA: its cycle is in progress"])
    problems: list[Problem] | None = None
    """On 422: each field and what is wrong with it."""


def _documented(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


OPERATOR_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _documented("the body could not be read as JSON at all"),
    401: _documented("no valid bearer token (the body was not read)"),
    404: _documented("no such campaign, send, queue, breaker or suppression"),
    409: _documented("refused in the current state; the message says why"),
    413: _documented("the request body is over DRIPR_API_MAX_BODY_BYTES"),
    422: _documented("invalid request; `problems` lists each field"),
    503: _documented("a dependency (the database, AWS) is unavailable"),
}
"""What every /api/v1 operation can answer besides its success, for the OpenAPI."""


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def _json(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status)


def allowed_methods(app: FastAPI, scope: Any) -> list[str]:
    """Every method some route serves at this path (two routes often share one: GET and POST
    /campaigns), for a 405's Allow header."""
    methods: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, Route):
            match, _ = route.matches({**scope, "method": "GET"})
            if match is not Match.NONE:
                methods |= set(route.methods or ())
    return sorted(methods)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return _json(exc.status, exc.code, exc.message, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"][1:]) or "body", "problem": e["msg"]}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:5])
        return _json(422, "invalid_request", f"invalid request: {summary}", problems=problems)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = {
            400: "bad_request",
            401: "unauthorized",
            404: "not_found",
            405: "method_not_allowed",
        }.get(exc.status_code, "error")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:  # Starlette names the first route's methods only
            headers["Allow"] = ", ".join(allowed_methods(app, request.scope))
        return JSONResponse(
            {"error": code, "message": str(exc.detail)},
            status_code=exc.status_code,
            headers=headers,
        )

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return _json(404, "not_found", str(exc), **getattr(exc, "details", {}))

    @app.exception_handler(Refused)
    async def _refused(_: Request, exc: Refused) -> JSONResponse:
        return _json(409, "conflict", str(exc))

    @app.exception_handler(InvalidInput)
    async def _invalid_input(_: Request, exc: InvalidInput) -> JSONResponse:
        return _json(422, "invalid_request", str(exc))

    async def _outage(request: Request, exc: Exception) -> JSONResponse:
        dependency = unreachable(exc)
        if dependency is None:
            raise exc  # a bug, not an outage: the 500 it is
        what = {"database": "the database", "aws": "the AWS endpoint"}[dependency]
        message = f"{what} is unreachable; try again when it is back"
        return _json(503, "dependency_unavailable", message, dependency=dependency)

    app.add_exception_handler(DBAPIError, _outage)
    app.add_exception_handler(BotoCoreError, _outage)

    @app.exception_handler(DependencyError)
    async def _dependency(_: Request, exc: DependencyError) -> JSONResponse:
        return _json(503, "dependency_unavailable", str(exc), dependency=exc.dependency)
