"""The operator dashboard: server-rendered pages at /ui on the control API's own endpoints.

`install()` adds it to the control API app: sign-in, overview, campaigns, sends and dead
letters, their static files, and the answers for a missing session (sign in) or a missing CSRF
token (403). See docs/dashboard.md.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from services.control_api.dashboard import (
    auth,
    campaigns,
    dlq,
    overview,
    sends,
    suppressions,
)
from services.control_api.dashboard.client import Refused
from services.control_api.dashboard.session import Signer
from services.control_api.dashboard.web import (
    FRAGMENT_HEADER,
    HERE,
    Config,
    CsrfRefused,
    SignInRequired,
    render,
)


def install(app: FastAPI, api_token: str, refresh_ms: int = 2000) -> None:
    app.state.dashboard = Config(Signer(api_token), api_token, refresh_ms)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="dashboard-static")
    for module in (auth, overview, campaigns, sends, suppressions, dlq):
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    async def _home() -> RedirectResponse:
        return RedirectResponse("/ui", status_code=307)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        if request.headers.get(FRAGMENT_HEADER):
            return Response("sign in again", status_code=401)
        target = "/ui/login"
        if exc.next_url != "/ui":
            target += "?next=" + quote(exc.next_url, safe="/")
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, _: CsrfRefused) -> HTMLResponse:
        return render(
            request,
            "error.html",
            403,
            title="Form refused",
            message="This form's security token is missing or does not match your session "
            "(or your session has ended). Nothing was changed. Reload the page and try again.",
        )

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> HTMLResponse:
        return render(
            request,
            "error.html",
            exc.status,
            title=f"The API said {exc.status}",
            message=exc.message,
        )
