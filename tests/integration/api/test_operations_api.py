"""Sends, queues, dead letters, unsubscribe and readiness through the control API over HTTP."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import uvicorn
from pydantic import SecretStr
from sqlalchemy import select

from infra.provision import Report
from services.control_api.app import create_app
from shared.adapters.db.models import AuditEntry, Recipient
from shared.bootstrap import Runtime, bootstrap
from shared.devtools.emulator import free_port
from shared.domain.events import StatusChange
from shared.domain.statuses import SendStatus
from shared.domain.unsubscribe import make_token
from shared.views import sends as send_views
from tests.factories import make_send, ready_to_create
from tests.integration.api.conftest import TOKEN
from tests.support import receive_all


async def test_send_progress_controls_pause_resume_cancel(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    send_id = await make_send(runtime)

    progress = (await api.get(f"/api/v1/sends/{send_id}")).json()
    recipients = (
        await api.get(f"/api/v1/sends/{send_id}/recipients", params={"page_size": 2})
    ).json()
    controls = await api.patch(f"/api/v1/sends/{send_id}/controls", json={"batch_size": 7})
    bad_controls = await api.patch(f"/api/v1/sends/{send_id}/controls", json={"batch_size": 0})
    paused = await api.post(f"/api/v1/sends/{send_id}/pause")
    paused_again = await api.post(f"/api/v1/sends/{send_id}/pause")
    resumed = await api.post(f"/api/v1/sends/{send_id}/resume")
    cancelled = await api.post(f"/api/v1/sends/{send_id}/cancel")

    assert (progress["total"], progress["pending"], progress["status"]) == (3, 3, "RUNNING")
    assert (recipients["total"], len(recipients["items"])) == (3, 2)
    assert controls.json()["batch_size"] == 7
    assert bad_controls.status_code == 422
    assert (paused.json()["status"], paused.json()["status_reason"]) == (
        "PAUSED",
        "paused by olivia",
    )
    assert paused_again.status_code == 409
    assert "only RUNNING can pause" in paused_again.json()["message"]
    assert resumed.json()["status"] == "RUNNING"
    assert (cancelled.json()["status"], cancelled.json()["pending"]) == ("CANCELLED", 3)
    async with runtime.sessions() as session:
        assert (await send_views.progress(session, send_id)).status is SendStatus.CANCELLED
        actions = list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.send_id == send_id)
                .order_by(AuditEntry.id)
            )
        )
    assert actions == ["send_controls", "pause_send", "resume_send", "cancel_send"]
    assert (await api.get("/api/v1/sends/999999")).status_code == 404


async def test_queue_status_dlq_peek_and_selective_redrive(
    api: httpx.AsyncClient, runtime: Runtime, topology: Report
) -> None:
    dlq_url = topology.dlq_urls["intro"]
    events = [
        StatusChange(campaign_id=c, cycle=1, from_status="DORMANT", to_status="WAITING_FOR_DATA")
        for c in (11, 12)
    ]
    for event, reason in zip(events, ("LLM timed out", "provider said 404"), strict=True):
        await runtime.sqs.send_message(
            QueueUrl=dlq_url,
            MessageBody=event.model_dump_json(),
            MessageAttributes={"failure_reason": {"DataType": "String", "StringValue": reason}},
        )
    await runtime.sqs.send_message(QueueUrl=dlq_url, MessageBody="typed by hand")

    depths = {q["name"]: q for q in (await api.get("/api/v1/queues")).json()}
    peeked = (await api.get("/api/v1/queues/intro/dlq", params={"limit": 10})).json()
    dry = (
        await api.post("/api/v1/queues/intro/dlq/redrive", json={"error_contains": "timed out"})
    ).json()
    depth_after_dry = (await api.get("/api/v1/queues")).json()
    done = (
        await api.post(
            "/api/v1/queues/intro/dlq/redrive",
            json={"campaign_id": 11, "dry_run": False},
        )
    ).json()

    assert depths["intro"]["dead_letters"] == 3 and set(depths) >= {"property", "email-sender"}
    assert sorted(p["reason"] for p in peeked) == [
        "LLM timed out",
        "moved by SQS after maxReceiveCount (no reason recorded)",
        "provider said 404",
    ]
    assert {p["campaign_id"] for p in peeked} == {11, 12, None}
    assert (dry["dry_run"], dry["redriven"], [m["campaign_id"] for m in dry["matched"]]) == (
        True,
        0,
        [11],
    )
    assert next(q for q in depth_after_dry if q["name"] == "intro")["dead_letters"] == 3
    assert (done["redriven"], [m["campaign_id"] for m in done["matched"]]) == (1, [11])
    # Through the topic: every queue whose filter takes WAITING_FOR_DATA gets it again.
    for name in ("intro", "property", "local-market"):
        (message,) = await receive_all(runtime.sqs, topology.queue_urls[name])
        assert json.loads(message["Body"])["event_id"] == str(events[0].event_id)
        assert message["MessageAttributes"]["to_status"]["StringValue"] == "WAITING_FOR_DATA"
    left = (await api.get("/api/v1/queues/intro/dlq")).json()
    assert sorted(str(p["campaign_id"]) for p in left) == ["12", "None"]
    assert (await api.get("/api/v1/queues/nope/dlq")).status_code == 404


async def test_campaign_view_shows_its_dead_letters(
    api: httpx.AsyncClient, runtime: Runtime, topology: Report
) -> None:
    event = await ready_to_create(runtime)
    await runtime.sqs.send_message(
        QueueUrl=topology.dlq_urls["email-creation"],
        MessageBody=event.model_dump_json(),
        MessageAttributes={
            "failure_reason": {"DataType": "String", "StringValue": "template exploded"}
        },
    )

    shown = (await api.get(f"/api/v1/campaigns/{event.campaign_id}")).json()

    (letter,) = shown["dead_letters"]
    assert (letter["queue"], letter["reason"]) == ("email-creation", "template exploded")
    assert letter["receive_count"] >= 1


async def test_unsubscribe_link_marks_the_recipient_and_a_bad_token_changes_nothing(
    api_url: str, runtime: Runtime
) -> None:
    event = await ready_to_create(runtime, recipients=2)
    async with runtime.sessions() as session:
        first, second = list(
            await session.scalars(
                select(Recipient)
                .where(Recipient.campaign_id == event.campaign_id)
                .order_by(Recipient.id)
            )
        )
    secret = runtime.settings.unsubscribe_secret.get_secret_value()
    good = make_token(secret, first.id, event.campaign_id)
    forged = make_token("some-other-secret-entirely", second.id, event.campaign_id)

    async with httpx.AsyncClient(base_url=api_url) as public:
        scanned = await public.get("/unsubscribe", params={"token": good})  # a link scanner
        assert await _unsubscribed(runtime, event.campaign_id) == set()
        one_click = await public.post(
            "/unsubscribe",
            params={"token": good},
            content="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        again = await public.post("/unsubscribe", data={"token": good})  # the page's button
        bad = await public.get("/unsubscribe", params={"token": forged})
        bad_post = await public.post("/unsubscribe", params={"token": forged})
        mangled = await public.get("/unsubscribe", params={"token": good[:-3] + "abc"})

    assert scanned.status_code == 200 and first.email in scanned.text
    assert 'method="post"' in scanned.text and "List-Unsubscribe" in scanned.text
    assert one_click.status_code == 200 and "You are unsubscribed" in one_click.text
    assert "set-cookie" not in one_click.headers and not one_click.is_redirect
    assert one_click.headers["content-type"].startswith("text/html")
    assert again.status_code == 200
    assert bad.status_code == bad_post.status_code == mangled.status_code == 400
    assert "Nothing was changed" in bad.text and not re.search(r"<script", bad.text)
    assert await _unsubscribed(runtime, event.campaign_id) == {first.id}


async def _unsubscribed(runtime: Runtime, campaign_id: int) -> set[int]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(Recipient.id).where(
                Recipient.campaign_id == campaign_id, Recipient.unsubscribed_at.is_not(None)
            )
        )
        return set(rows)


async def test_readiness_reports_database_and_aws(api_url: str) -> None:
    async with httpx.AsyncClient(base_url=api_url) as public:
        response = await public.get("/ready")
        spec = (await public.get("/openapi.json")).json()

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "aws": "ok"}
    assert "/api/v1/campaigns/actions/{action}" in spec["paths"]


async def test_ids_beyond_what_the_database_stores_are_refused_with_422(
    api: httpx.AsyncClient,
) -> None:
    huge = 2**64
    calls = [
        api.get(f"/api/v1/campaigns/{huge}"),
        api.patch(f"/api/v1/campaigns/{huge}", json={"name": "x"}),
        api.get(f"/api/v1/campaigns/{huge}/send"),
        api.get("/api/v1/campaigns/1/send", params={"cycle": huge}),
        api.get(f"/api/v1/sends/{huge}"),
        api.get(f"/api/v1/sends/{huge}/recipients"),
        api.post(f"/api/v1/sends/{huge}/pause"),
        api.post(f"/api/v1/sends/{huge}/resume"),
        api.post(f"/api/v1/sends/{huge}/cancel"),
        api.patch(f"/api/v1/sends/{huge}/controls", json={"batch_size": 2}),
        api.post("/api/v1/campaigns/actions/approve", json={"campaign_ids": [huge]}),
        api.post("/api/v1/queues/intro/dlq/redrive", json={"campaign_id": huge}),
    ]
    answers = [await call for call in calls]

    assert [a.status_code for a in answers] == [422] * len(calls), [a.text for a in answers]
    assert all(a.json()["error"] == "invalid_request" for a in answers)


async def test_the_contract_is_exact_strict_booleans_and_timestamps_with_their_zone(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    send_id = await make_send(runtime)

    numeric = await api.post("/api/v1/queues/intro/dlq/redrive", json={"dry_run": 0})
    wordy = await api.post("/api/v1/campaigns", json={"requires_approval": "yes", "name": "x"})
    progress = (await api.get(f"/api/v1/sends/{send_id}")).json()
    spec = (await api.get("/openapi.json")).json()

    assert numeric.status_code == 422 and "dry_run" in numeric.json()["message"]
    assert wordy.status_code == 422 and "requires_approval" in wordy.json()["message"]
    assert progress["created_at"].endswith("Z")
    assert spec["components"]["securitySchemes"] == {
        "HTTPBearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "the operator token (DRIPR_API_TOKEN)",
        }
    }
    pause = spec["paths"]["/api/v1/sends/{send_id}/pause"]["post"]
    assert pause["security"] == [{"HTTPBearer": []}]
    assert {"401", "404", "409", "413", "422"} <= set(pause["responses"])
    assert pause["responses"]["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorOut"
    }


async def test_an_unreachable_database_is_a_503_that_says_so(runtime: Runtime) -> None:
    """An outage, not a bug: the API answers 503 naming the database, never a 500."""
    unreachable_db = "mysql+asyncmy://root@127.0.0.1:1/dripr"  # nothing listens on port 1
    settings = runtime.settings.model_copy(
        update={"database_url": unreachable_db, "api_token": SecretStr(TOKEN)}
    )
    async with bootstrap(settings) as down:
        port = free_port()
        config = uvicorn.Config(create_app(settings, down), port=port, log_config=None)
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
            await asyncio.sleep(0.02)
        try:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {TOKEN}", "X-Operator": "olivia"},
            ) as client:
                response = await client.get("/api/v1/campaigns")
        finally:
            server.should_exit = True
            await serving
    assert response.status_code == 503, response.text
    assert response.json() == {
        "error": "dependency_unavailable",
        "message": "the database is unreachable; try again when it is back",
        "dependency": "database",
    }
