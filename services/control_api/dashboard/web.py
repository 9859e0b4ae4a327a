"""What every dashboard page shares: templates, the signed-in dependency, rendering, messages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from services.control_api.dashboard import session as sessions
from services.control_api.dashboard.client import Api, Refused
from shared.domain.errors import DriprError
from shared.service_layer import operator_sessions

HERE = Path(__file__).parent
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Pages carry no inline script or style, cannot be framed (no clickjacking of the buttons),
and are not cached: they show live state and a session's CSRF token."""
FRAGMENT_HEADER = "X-Dashboard-Fragment"
"""Sent by dashboard.js when it refreshes a live region: it wants a 401, not a sign-in page."""


@dataclass(frozen=True)
class Config:
    signer: sessions.Signer
    api_token: str
    refresh_ms: int = 2000


class SignInRequired(DriprError):
    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class CsrfRefused(DriprError):
    """A POST without the session's CSRF token (or without a session): answered with 403."""


def when(value: object) -> str:
    """API times are naive UTC ISO strings; show them to the second, labelled."""
    if not value:
        return "—"
    text = str(value).replace("T", " ")
    return text[:19] + " UTC"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["q"] = lambda value: quote(str(value), safe="")
    return env


templates = Jinja2Templates(env=_environment())


def config(request: Request) -> Config:
    value: Config = request.app.state.dashboard
    return value


def current(request: Request) -> sessions.Session | None:
    return sessions.read(config(request).signer, request)


async def signed_in(request: Request) -> sessions.Session:
    """The signed-in operator, whose server-side session is live (not signed out, not expired);
    a POST must also carry the session's CSRF token."""
    who = current(request)
    if who is not None and who.sid is not None:
        runtime = request.app.state.runtime
        max_age = timedelta(seconds=sessions.MAX_AGE)
        if not await operator_sessions.is_live(runtime.sessions, who.sid, max_age):
            who = None
    if request.method not in ("GET", "HEAD"):
        form = await request.form()
        if who is None or not who.signed_in or not sessions.csrf_ok(who, form.get("csrf_token")):
            raise CsrfRefused()
    if who is None or not who.signed_in:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    request.state.session = who
    return who


async def api(
    request: Request, who: Annotated[sessions.Session, Depends(signed_in)]
) -> AsyncIterator[Api]:
    client = Api(request.app, config(request).api_token, who.operator or "operator")
    try:
        yield client
    finally:
        await client.aclose()


ApiDep = Annotated[Api, Depends(api)]


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    cfg = config(request)
    flash = sessions.read_flash(cfg.signer, request)
    who = getattr(request.state, "session", None) or current(request)
    values = {
        "session": who,
        "flash": flash,
        "refresh_ms": cfg.refresh_ms,
        "nav": None,
        **context,
    }
    response = templates.TemplateResponse(
        request, name, values, status_code=status_code, headers=HEADERS
    )
    if flash is not None:
        sessions.clear_flash(response)
    return response


def fragment(request: Request, name: str, **context: Any) -> HTMLResponse:
    """A live region's content alone; no flash is consumed by a background refresh."""
    who = getattr(request.state, "session", None)
    values = {"session": who, "flash": None, "refresh_ms": config(request).refresh_ms, **context}
    return templates.TemplateResponse(request, name, values, headers=HEADERS)


def redirect(request: Request, url: str, kind: str | None = None, text: str = "") -> Response:
    """Post/redirect/get, carrying the outcome (or the API's refusal) to the next page."""
    response = RedirectResponse(url, status_code=303)
    if kind is not None:
        sessions.flash(config(request).signer, request, response, kind, text)
    return response


async def act(
    request: Request, back: str, call: Awaitable[Any], done: Callable[[Any], str]
) -> Response:
    """Run one API action; say what it did, or show the API's refusal in its own words."""
    try:
        result = await call
    except Refused as exc:
        return redirect(request, back, "error", exc.message)
    return redirect(request, back, "ok", done(result))
