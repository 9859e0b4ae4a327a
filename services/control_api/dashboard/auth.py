"""Sign-in with the operator token, and sign-out.

The sign-in form is itself CSRF-protected: the first visit gets an anonymous session with a CSRF
token. A correct token starts a fresh session (new CSRF token, a server-side session id) named
after the operator, whose name goes into the audit log with everything they do. Failed attempts
are counted per client address and overall; past the limit the form answers 429 with
Retry-After, before the token is even compared. Sign-out ends the server-side session, so a
copy of the cookie stops working with it.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from services.control_api.dashboard import session as sessions
from services.control_api.dashboard.web import CsrfRefused, config, current, redirect, render
from shared.service_layer import operator_sessions

router = APIRouter(prefix="/ui", include_in_schema=False)

LIMITS = operator_sessions.SignInLimits()


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
    store = request.app.state.runtime.sessions
    address = request.client.host if request.client else "unknown"
    wait = await operator_sessions.wait_before_trying(store, address, LIMITS)
    if wait:
        response = render(
            request,
            "login.html",
            429,
            next=_safe_next(next),
            problem=f"Too many failed sign-ins. Try again in {wait} s.",
            operator=operator,
        )
        response.headers["Retry-After"] = str(wait)
        return response
    if not hmac.compare_digest(token.encode(), cfg.api_token.encode()):
        await operator_sessions.failed(store, address, LIMITS)
        return render(
            request,
            "login.html",
            401,
            next=_safe_next(next),
            problem="That is not the operator token. Nothing was signed in.",
            operator=operator,
        )
    sid = await operator_sessions.start(store, operator)
    signed = redirect(request, _safe_next(next), "ok", f"Signed in as {operator}.")
    sessions.write(cfg.signer, request, signed, sessions.new_session(operator, sid))
    return signed


@router.post("/logout")
async def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
    who = current(request)
    if not sessions.csrf_ok(who, csrf_token):
        raise CsrfRefused()
    if who is not None and who.sid is not None:
        await operator_sessions.end(request.app.state.runtime.sessions, who.sid)
    response = redirect(request, "/ui/login")
    sessions.clear(response)
    return response
