"""Suppressions and feedback rates through the control API over HTTP."""

from __future__ import annotations

import httpx
from sqlalchemy import select, update

from shared.adapters.db.models import AuditEntry, Delivery, Send, Suppression
from shared.bootstrap import Runtime
from shared.domain.feedback import SuppressionReason
from shared.domain.operators import to_header
from shared.service_layer.feedback import suppress
from tests.factories import make_send
from tests.integration.api.conftest import TOKEN


async def _suppress(runtime: Runtime, send_id: int, reason: SuppressionReason) -> str:
    async with runtime.sessions() as session:
        delivery = await session.scalar(
            select(Delivery)
            .where(Delivery.send_id == send_id)
            .order_by(Delivery.id)
            .offset(0 if reason is SuppressionReason.BOUNCE else 1)
            .limit(1)
        )
        assert delivery is not None
        await suppress(session, delivery.email.lower(), reason, "smtp; 550 user unknown", delivery)
        await session.commit()
        return delivery.email.lower()


async def test_suppressions_are_listed_filtered_and_lifted_with_an_audit_entry(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    send_id = await make_send(runtime)
    bounced = await _suppress(runtime, send_id, SuppressionReason.BOUNCE)
    complained = await _suppress(runtime, send_id, SuppressionReason.COMPLAINT)

    listed = (await api.get("/api/v1/suppressions")).json()
    bounces = (await api.get("/api/v1/suppressions", params={"reason": "BOUNCE"})).json()
    by_part = (await api.get("/api/v1/suppressions", params={"email": bounced[:4]})).json()
    lifted = await api.delete(f"/api/v1/suppressions/{bounced.upper()}")
    again = await api.delete(f"/api/v1/suppressions/{bounced}")
    malformed = await api.delete("/api/v1/suppressions/not-an-address")
    after = (await api.get("/api/v1/suppressions")).json()
    history = (await api.get("/api/v1/suppressions", params={"lifted": "true"})).json()

    assert listed["total"] == 2
    assert {i["email"]: i["reason"] for i in listed["items"]} == {
        bounced: "BOUNCE",
        complained: "COMPLAINT",
    }
    assert [i["email"] for i in bounces["items"]] == [bounced]
    assert bounced in [i["email"] for i in by_part["items"]]
    assert lifted.status_code == 200, lifted.text
    assert (lifted.json()["lifted_by"], lifted.json()["email"]) == ("olivia", bounced)
    assert again.status_code == 404 and "is not suppressed" in again.json()["message"]
    assert malformed.status_code == 422
    assert [i["email"] for i in after["items"]] == [complained]
    assert [i["email"] for i in history["items"]] == [bounced]
    async with runtime.sessions() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "lift_suppression")
        )
        row = await session.get(Suppression, bounced)
    assert entry is not None and entry.actor == "olivia"
    assert entry.detail == {"email": bounced, "reason": "BOUNCE"}
    assert row is not None and row.lifted_at is not None


async def test_send_progress_and_the_campaign_show_bounce_and_complaint_rates(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    send_id = await make_send(runtime, recipients=4)
    async with runtime.sessions() as session:
        await session.execute(
            update(Send)
            .where(Send.id == send_id)
            .values(sent_count=4, bounced_count=1, complained_count=1)
        )
        campaign_id = (await session.get(Send, send_id)).campaign_id  # type: ignore[union-attr]
        await session.commit()

    progress = (await api.get(f"/api/v1/sends/{send_id}")).json()
    campaign = (await api.get(f"/api/v1/campaigns/{campaign_id}")).json()

    assert (progress["bounced"], progress["complained"]) == (1, 1)
    assert (progress["bounce_rate"], progress["complaint_rate"]) == (0.25, 0.25)
    assert campaign["deliverability"] == {
        "sent": 4,
        "bounced": 1,
        "complained": 1,
        "bounce_rate": 0.25,
        "complaint_rate": 0.25,
    }


async def test_an_operator_name_in_any_script_travels_percent_encoded_to_the_audit_log(
    api_url: str, runtime: Runtime
) -> None:
    send_id = await make_send(runtime)
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Operator": to_header("José 王")}

    async with httpx.AsyncClient(base_url=api_url, headers=headers) as client:
        paused = await client.post(f"/api/v1/sends/{send_id}/pause")

    assert headers["X-Operator"] == "Jos%C3%A9 %E7%8E%8B" and paused.status_code == 200
    async with runtime.sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "pause_send"))
    assert entry is not None and entry.actor == "José 王"
