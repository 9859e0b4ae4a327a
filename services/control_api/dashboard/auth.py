"""Sign-in with the operator token, and sign-out.

The sign-in form is itself CSRF-protected: the first visit gets an anonymous session with a CSRF
token. A correct token starts a fresh session (new CSRF token) named after the operator, whose
name goes into the audit log with everything they do.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from services.control_api.dashboard import session as sessions
from services.control_api.dashboard.web import CsrfRefused, config, current, redirect, render

router = APIRouter(prefix="/ui", include_in_schema=False)


def _safe_next(value: str | None) -> str:
    """Only a path inside the dashboard: never an open redirect to another site."""
    if value and value.startswith("/ui") and not value.startswith("//"):
        return value
    return "/ui"


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str | None = None) -> Response:
    who = current(request)
    if who is not None and who.signed_in:
        return redirect(request, _safe_next(next))
    who = who or sessions.new_session()
    request.state.session = who
    response = render(request, "login.html", next=_safe_next(next), problem=None)
    sessions.write(config(request).signer, request, response, who)
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    operator: Annotated[str, Form(max_length=120)] = "",
    token: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/ui",
) -> Response:
    cfg = config(request)
    who = current(request)
    if not sessions.csrf_ok(who, csrf_token):
        raise CsrfRefused()
    request.state.session = who
    operator = operator.strip()
    if not operator:
        return render(request, "login.html", 400, next=_safe_next(next), problem="Give your name.")
    if not hmac.compare_digest(token.encode(), cfg.api_token.encode()):
        return render(
            request,
            "login.html",
            401,
            next=_safe_next(next),
            problem="That is not the operator token. Nothing was signed in.",
            operator=operator,
        )
    response = redirect(request, _safe_next(next), "ok", f"Signed in as {operator}.")
    sessions.write(cfg.signer, request, response, sessions.new_session(operator))
    return response


@router.post("/logout")
async def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
    if not sessions.csrf_ok(current(request), csrf_token):
        raise CsrfRefused()
    response = redirect(request, "/ui/login")
    sessions.clear(response)
    return response
