"""Every error the API returns is JSON with a code and a message a person can act on."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from shared.service_layer.operations import UnknownCampaigns
from shared.service_layer.sends import SendNotFound, SendStateError


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def _json(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status)


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
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "error"
        )
        return JSONResponse(
            {"error": code, "message": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(UnknownCampaigns)
    async def _unknown(_: Request, exc: UnknownCampaigns) -> JSONResponse:
        return _json(404, "not_found", f"{exc}; nothing was changed", ids=exc.ids)

    @app.exception_handler(SendNotFound)
    async def _no_send(_: Request, exc: SendNotFound) -> JSONResponse:
        return _json(404, "not_found", str(exc))

    @app.exception_handler(SendStateError)
    async def _send_state(_: Request, exc: SendStateError) -> JSONResponse:
        return _json(409, "conflict", str(exc))
