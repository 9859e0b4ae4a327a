"""The control API over HTTP, checking the database after each call (seed 003's rule)."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import func, select

from services.control_api.app import create_app
from services.email_creation.app import EMAIL_STEP
from shared.adapters.db.models import AuditEntry, Campaign, Recipient
from shared.bootstrap import Runtime
from shared.domain.statuses import CampaignStatus as S
from tests.factories import history, load, make_campaign, ready_to_create, start
from tests.integration.api.conftest import TOKEN

NEW = {
    "name": "Elm Way update",
    "agent_name": "Ada Alvarez",
    "agent_email": "ada@realty.example",
    "address": "12 Elm Way, Boise, ID 83702",
    "market_area": "Boise, ID",
    "requires_approval": True,
    "recipients": [{"email": "jo@homes.example", "name": "Jo"}, {"email": "sam@homes.example"}],
}


async def test_every_operator_endpoint_requires_the_token(api_url: str) -> None:
    async with httpx.AsyncClient(base_url=api_url) as anonymous:
        for method, path in (
            ("GET", "/api/v1/campaigns"),
            ("POST", "/api/v1/campaigns"),
            ("POST", "/api/v1/campaigns/actions/approve"),
            ("GET", "/api/v1/queues"),
            ("POST", "/api/v1/sends/1/pause"),
        ):
            missing = await anonymous.request(method, path)
            wrong = await anonymous.request(
                method, path, headers={"Authorization": "Bearer not-the-token-at-all"}
            )
            assert missing.status_code == wrong.status_code == 401, path
            assert missing.json() == {
                "error": "unauthorized",
                "message": "a valid bearer token is required",
            }
            assert missing.headers["www-authenticate"] == "Bearer"
        assert (await anonymous.get("/health")).json() == {"status": "ok"}


async def test_create_then_show_a_campaign(api: httpx.AsyncClient, runtime: Runtime) -> None:
    created = await api.post("/api/v1/campaigns", json=NEW)

    assert created.status_code == 201, created.text
    body = created.json()
    campaign = await load(runtime.sessions, body["id"])
    assert (campaign.name, campaign.campaign_status, campaign.cycle) == (
        "Elm Way update",
        S.DORMANT,
        0,
    )
    async with runtime.sessions() as session:
        emails = set(
            await session.scalars(
                select(Recipient.email).where(Recipient.campaign_id == body["id"])
            )
        )
        (entry,) = await session.scalars(
            select(AuditEntry).where(AuditEntry.campaign_id == body["id"])
        )
    assert emails == {"jo@homes.example", "sam@homes.example"}
    assert (entry.actor, entry.action, entry.detail) == ("olivia", "create", {"recipients": 2})

    shown = (await api.get(f"/api/v1/campaigns/{body['id']}")).json()
    assert shown["sub_statuses"]["property_status"] == "DORMANT"
    assert (shown["recipients"], shown["history"], shown["send"]) == (2, [], None)
    assert shown["audit"][0]["actor"] == "olivia"


async def test_invalid_requests_get_a_4xx_with_a_message(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({**NEW, "address": None}, "address is required unless no_address_newsletter"),
        ({**NEW, "agent_email": "not-an-email"}, "agent_email"),
        ({**NEW, "recipients": []}, "recipients"),
        ({**NEW, "cadence_days": 0}, "cadence_days"),
        ({**NEW, "surprise": 1}, "surprise: Extra inputs are not permitted"),
        ({**NEW, "recipients": [{"email": "a@b.example"}, {"email": "a@b.example"}]}, "twice"),
    ]
    for body, message in cases:
        response = await api.post("/api/v1/campaigns", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"] == "invalid_request"
        assert message in response.json()["message"], response.json()
    bad_filter = await api.get("/api/v1/campaigns", params={"sub_status": "fetching:NOW"})
    message = bad_filter.json()["message"]
    assert (
        bad_filter.status_code == 422 and "sub_status" in message and "property_status" in message
    )
    not_json = await api.post(
        "/api/v1/campaigns", content=b"{oops", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 422
    assert (await api.get("/api/v1/campaigns/999999")).status_code == 404
    async with runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Campaign)) == 0


async def test_list_filters_and_pages(api: httpx.AsyncClient, runtime: Runtime) -> None:
    ids = [await make_campaign(runtime.sessions) for _ in range(5)]
    failed = await start(runtime, address="9 Nowhere Road, Boise, ID")
    async with runtime.sessions() as session:
        campaign = await session.get(Campaign, failed.campaign_id)
        assert campaign is not None
        campaign.error_reason = "property_status: not found"
        await session.commit()

    first = (await api.get("/api/v1/campaigns", params={"page_size": 2})).json()
    third = (await api.get("/api/v1/campaigns", params={"page_size": 2, "page": 3})).json()
    waiting = (await api.get("/api/v1/campaigns", params={"status": "WAITING_FOR_DATA"})).json()
    sub = (
        await api.get(
            "/api/v1/campaigns", params={"sub_status": "property_status:WAITING_FOR_DATA"}
        )
    ).json()
    errors = (await api.get("/api/v1/campaigns", params={"error": "true"})).json()

    assert (first["total"], [c["id"] for c in first["items"]]) == (6, ids[:2])
    assert [c["id"] for c in third["items"]] == [ids[4], failed.campaign_id]
    assert [c["id"] for c in waiting["items"]] == [failed.campaign_id]
    assert [c["id"] for c in sub["items"]] == [failed.campaign_id]
    assert [c["error_reason"] for c in errors["items"]] == ["property_status: not found"]


async def test_editing_a_campaign_in_progress_is_refused_with_409(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    dormant = await make_campaign(runtime.sessions)
    running = (await start(runtime)).campaign_id

    edited = await api.patch(f"/api/v1/campaigns/{dormant}", json={"name": "Renamed"})
    refused = await api.patch(f"/api/v1/campaigns/{running}", json={"name": "Renamed"})

    assert edited.status_code == 200 and edited.json()["name"] == "Renamed"
    assert refused.status_code == 409
    assert refused.json()["message"].startswith(
        f"campaign {running} is WAITING_FOR_DATA: its cycle is in progress"
    )
    assert (await load(runtime.sessions, running)).name == "Maple Street newsletter"
    assert (await load(runtime.sessions, dormant)).name == "Renamed"


async def test_batch_approve_reports_partial_batches_and_queues_events(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    waiting = []
    for _ in range(2):
        event = await ready_to_create(runtime, requires_approval=True)
        await EMAIL_STEP.handle(event, runtime.unit_of_work("email-creation", event.event_id))
        waiting.append(event.campaign_id)
    dormant = await make_campaign(runtime.sessions)

    response = await api.post(
        "/api/v1/campaigns/actions/approve", json={"campaign_ids": [*waiting, dormant]}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["updated_count"], body["queued_count"], body["updated"]) == (2, 2, waiting)
    assert body["refused"] == [
        {"campaign_id": dormant, "reason": f"campaign {dormant} is DORMANT: cannot approve"}
    ]
    for campaign_id in waiting:
        campaign = await load(runtime.sessions, campaign_id)
        assert campaign.campaign_status is S.READY_TO_SEND_EMAIL
        last = (await history(runtime.sessions, campaign_id))[-1]
        assert (last.to_status, last.published_at is not None) == ("READY_TO_SEND_EMAIL", True)
    async with runtime.sessions() as session:
        approvals = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "approve"))
        )
    assert sorted(a.campaign_id for a in approvals) == waiting
    assert {a.actor for a in approvals} == {"olivia"}


async def test_an_unknown_id_is_a_404_listing_it_and_the_batch_rolls_back(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    event = await ready_to_create(runtime, requires_approval=True)
    await EMAIL_STEP.handle(event, runtime.unit_of_work("email-creation", event.event_id))

    response = await api.post(
        "/api/v1/campaigns/actions/approve",
        json={"campaign_ids": [event.campaign_id, 424242, 434343]},
    )

    assert response.status_code == 404
    assert response.json()["ids"] == [424242, 434343]
    assert "nothing was changed" in response.json()["message"]
    campaign = await load(runtime.sessions, event.campaign_id)
    assert campaign.campaign_status is S.WAITING_FOR_MANUAL_APPROVAL


async def test_send_now_and_retry(api: httpx.AsyncClient, runtime: Runtime) -> None:
    from datetime import timedelta

    from shared.domain.clock import utcnow_naive

    later = await make_campaign(
        runtime.sessions, next_send_datetime=utcnow_naive() + timedelta(days=9)
    )
    response = await api.post("/api/v1/campaigns/actions/send_now", json={"campaign_ids": [later]})
    assert response.json()["updated"] == [later]
    assert (await load(runtime.sessions, later)).campaign_status is S.WAITING_FOR_DATA

    retry = await api.post("/api/v1/campaigns/actions/retry", json={"campaign_ids": [later]})
    assert (
        retry.json()["refused"][0]["reason"] == f"campaign {later} is WAITING_FOR_DATA, not ERROR"
    )
    bad = await api.post("/api/v1/campaigns/actions/explode", json={"campaign_ids": [later]})
    assert bad.status_code == 422


async def test_recipients_the_database_holds_equal_are_a_409_naming_them(
    api: httpx.AsyncClient,
) -> None:
    # one address to MySQL's case- and accent-insensitive unique key, two to Python
    for pair in (
        ("a@b.example", "A@b.example"),
        ("e@b.example", "é@b.example"),
        ("\uff45@b.example", "e@b.example"),
        ("e@b.example", "e@b.example"),  # the same address under two names
    ):
        body = {**NEW, "recipients": [{"email": pair[0]}, {"email": pair[1], "name": "x"}]}
        created = await api.post("/api/v1/campaigns", json=body)
        assert created.status_code == 409, (pair, created.text)
        assert "the same email twice" in created.json()["message"]
        assert pair[1] in created.json()["message"]


async def test_a_collision_only_the_database_sees_is_a_409_not_a_500(
    api: httpx.AsyncClient, is_mysql: bool
) -> None:
    # utf8mb4_general_ci holds ß and s equal; Unicode casefolding makes ß "ss".
    body = {**NEW, "recipients": [{"email": "ß@b.example"}, {"email": "s@b.example"}]}

    created = await api.post("/api/v1/campaigns", json=body)

    if is_mysql:
        assert created.status_code == 409, created.text
        assert created.json() == {
            "error": "conflict",
            "message": "two recipients are the same address to the database",
        }
    else:
        assert created.status_code == 201  # SQLite compares bytes: two addresses


async def test_the_docs_page_loads_nothing_from_another_origin(api_url: str) -> None:
    async with httpx.AsyncClient(base_url=api_url) as client:
        page = await client.get("/docs")
        script = await client.get("/docs/assets/swagger-ui-bundle.js")
        contract = await client.get("/openapi.json")
        redoc = await client.get("/redoc")

    assert page.status_code == 200
    assert "cdn." not in page.text and "https://" not in page.text.split("</title>")[1]
    assert '"/docs/assets/swagger-ui-bundle.js"' in page.text.replace("'", '"')
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert script.status_code == 200 and len(script.content) > 100_000
    assert contract.status_code == 200 and redoc.status_code == 404


async def test_the_docs_page_is_off_when_the_operator_says_so(runtime: Runtime) -> None:
    settings = runtime.settings.model_copy(
        update={"api_token": SecretStr(TOKEN), "api_docs": False}
    )
    transport = httpx.ASGITransport(app=create_app(settings, runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        docs, contract = await client.get("/docs"), await client.get("/openapi.json")

    assert (docs.status_code, contract.status_code) == (404, 200)
