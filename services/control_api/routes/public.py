"""Routes without the operator token: the unsubscribe link, health and readiness."""

from __future__ import annotations

import html

import structlog
from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import select, text, update

from services.control_api.deps import RuntimeDep
from shared.adapters.db.models import Recipient
from shared.adapters.topology import TOPOLOGY
from shared.domain.clock import utcnow_naive
from shared.domain.unsubscribe import InvalidToken, read_token
from shared.service_layer import audit

router = APIRouter(tags=["public"])
log = structlog.get_logger(__name__)

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>
<body style="font-family: Helvetica, Arial, sans-serif; max-width: 32rem; margin: 4rem auto;">
<h1 style="font-size: 1.4rem;">{title}</h1><p>{message}</p></body></html>"""


def _page(status: int, title: str, message: str) -> HTMLResponse:
    return HTMLResponse(
        PAGE.format(title=html.escape(title), message=html.escape(message)), status_code=status
    )


async def _unsubscribe(runtime: RuntimeDep, token: str) -> HTMLResponse:
    try:
        who = read_token(runtime.settings.unsubscribe_secret.get_secret_value(), token)
    except InvalidToken as exc:
        log.warning("unsubscribe.refused", reason=str(exc))
        return _page(
            400, "This link is not valid", "Nothing was changed. " + str(exc).capitalize() + "."
        )
    async with runtime.sessions() as session:
        email = await session.scalar(
            select(Recipient.email).where(
                Recipient.id == who.recipient_id, Recipient.campaign_id == who.campaign_id
            )
        )
        if email is None:
            return _page(
                400, "This link is not valid", "Nothing was changed: no such subscription."
            )
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
async def unsubscribe_link(runtime: RuntimeDep, token: str = "") -> HTMLResponse:
    return await _unsubscribe(runtime, token)


@router.post("/unsubscribe", response_class=HTMLResponse)
async def unsubscribe_one_click(runtime: RuntimeDep, token: str = Form("")) -> HTMLResponse:
    return await _unsubscribe(runtime, token)


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
