"""Routes without the operator token: the unsubscribe link, health and readiness.

Unsubscribing follows RFC 8058: a POST to the link (the signed token in its query string, the
body `List-Unsubscribe=One-Click`, as a mailbox provider's one-click sends it, or the button's
form) unsubscribes and answers 200 with no redirect and no cookie. A GET only shows the page
with that button: the link scanners of mail gateways fetch every link, and must change nothing.
"""

from __future__ import annotations

import html
from typing import Annotated
from urllib.parse import urlencode

import structlog
from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import select, text, update

from services.control_api.deps import RuntimeDep
from shared.adapters.db.models import Recipient
from shared.adapters.topology import TOPOLOGY
from shared.domain.clock import utcnow_naive
from shared.domain.unsubscribe import InvalidToken, Unsubscribe, read_token
from shared.service_layer import audit

router = APIRouter(tags=["public"])
log = structlog.get_logger(__name__)

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>
<body style="font-family: Helvetica, Arial, sans-serif; max-width: 32rem; margin: 4rem auto;">
<h1 style="font-size: 1.4rem;">{title}</h1><p>{message}</p>{form}</body></html>"""
BUTTON = """<form method="post" action="/unsubscribe?{query}">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit" style="font-size: 1rem; padding: .5rem 1rem;">Unsubscribe</button></form>"""


def _page(status: int, title: str, message: str, form: str = "") -> HTMLResponse:
    page = PAGE.format(title=html.escape(title), message=html.escape(message), form=form)
    return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})


def _invalid(reason: str) -> HTMLResponse:
    return _page(400, "This link is not valid", "Nothing was changed. " + reason)


async def _subscriber(runtime: RuntimeDep, token: str) -> tuple[Unsubscribe, str] | HTMLResponse:
    """The token's recipient and address, or the page saying why the link is not valid."""
    try:
        who = read_token(runtime.settings.unsubscribe_secret.get_secret_value(), token)
    except InvalidToken as exc:
        log.warning("unsubscribe.refused", reason=str(exc))
        return _invalid(str(exc).capitalize() + ".")
    async with runtime.sessions() as session:
        email = await session.scalar(
            select(Recipient.email).where(
                Recipient.id == who.recipient_id, Recipient.campaign_id == who.campaign_id
            )
        )
    if email is None:
        return _invalid("No such subscription.")
    return who, email


async def _unsubscribe(runtime: RuntimeDep, token: str) -> HTMLResponse:
    found = await _subscriber(runtime, token)
    if isinstance(found, HTMLResponse):
        return found
    who, email = found
    async with runtime.sessions() as session:
        await session.execute(
            update(Recipient)
            .where(Recipient.id == who.recipient_id, Recipient.unsubscribed_at.is_(None))
            .values(unsubscribed_at=utcnow_naive())
        )
        audit.record(
            session,
            "recipient",
            "unsubscribe",
            campaign_ids=[who.campaign_id],
            detail={"recipient_id": who.recipient_id},
        )
        await session.commit()
    return _page(200, "You are unsubscribed", f"{email} will receive no more of these newsletters.")


@router.get("/unsubscribe", response_class=HTMLResponse)
async def unsubscribe_page(runtime: RuntimeDep, token: str = "") -> HTMLResponse:
    """The link opened in a browser: a page with the button; nothing changes until it is pressed."""
    found = await _subscriber(runtime, token)
    if isinstance(found, HTMLResponse):
        return found
    _who, email = found
    form = BUTTON.format(query=html.escape(urlencode({"token": token}), quote=True))
    return _page(200, "Unsubscribe?", f"Stop sending these newsletters to {email}?", form)


@router.post("/unsubscribe", response_class=HTMLResponse)
async def unsubscribe_one_click(
    runtime: RuntimeDep,
    token: Annotated[str, Query(description="the signed token, as in the link")] = "",
    form_token: Annotated[str, Form(alias="token")] = "",
) -> HTMLResponse:
    """RFC 8058 one-click (body `List-Unsubscribe=One-Click`) or the page's button."""
    return await _unsubscribe(runtime, token or form_token)


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready")
async def ready(runtime: RuntimeDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        async with runtime.sessions() as session:
            await session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}: {exc}"[:300]
    try:
        await runtime.sqs.get_queue_url(QueueName=runtime.names.queue(TOPOLOGY.queues[0]))
        checks["aws"] = "ok"
    except Exception as exc:
        checks["aws"] = f"unreachable: {type(exc).__name__}: {exc}"[:300]
    ok = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ok else "not ready", **checks}, status_code=200 if ok else 503
    )
