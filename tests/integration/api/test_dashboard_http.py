"""The dashboard over HTTP without a browser: sign-in, CSRF, pages, and actions through the API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable

import httpx
import pytest
from sqlalchemy import select

from shared.adapters.db.models import AuditEntry, Delivery
from shared.bootstrap import Runtime
from shared.domain.feedback import SuppressionReason
from shared.domain.statuses import CampaignStatus as S
from shared.service_layer.feedback import suppress
from tests.factories import make_campaign, make_send
from tests.integration.api.conftest import TOKEN
from tests.integration.api.ui import csrf_of, sign_in, trip


@pytest.fixture
async def browser(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client that does not follow redirects, like a careful browser."""
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as client:
        yield client


async def test_pages_need_a_session_and_the_root_leads_to_them(
    browser: httpx.AsyncClient,
) -> None:
    root = await browser.get("/")
    overview = await browser.get("/ui")
    campaigns = await browser.get("/ui/campaigns?status=ERROR")
    part = await browser.get("/ui/parts/overview", headers={"X-Dashboard-Fragment": "1"})

    assert (root.status_code, root.headers["location"]) == (307, "/ui")
    assert (overview.status_code, overview.headers["location"]) == (303, "/ui/login")
    assert campaigns.headers["location"] == "/ui/login?next=/ui/campaigns%3Fstatus%3DERROR"
    assert part.status_code == 401


async def test_a_wrong_token_signs_nobody_in(browser: httpx.AsyncClient) -> None:
    form = await browser.get("/ui/login")
    cookie = form.headers["set-cookie"]
    refused = await browser.post(
        "/ui/login",
        data={"operator": "mallory", "token": "not-the-token", "csrf_token": csrf_of(form.text)},
    )

    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert refused.status_code == 401
    assert "That is not the operator token" in refused.text
    assert (await browser.get("/ui")).status_code == 303


async def test_sign_in_needs_the_forms_csrf_token(browser: httpx.AsyncClient) -> None:
    await browser.get("/ui/login")
    forged = await browser.post("/ui/login", data={"operator": "olivia", "token": TOKEN})

    assert forged.status_code == 403
    assert (await browser.get("/ui")).status_code == 303


async def test_a_post_without_the_csrf_token_changes_nothing(
    browser: httpx.AsyncClient, runtime: Runtime
) -> None:
    campaign = await make_campaign(runtime.sessions, campaign_status=S.DORMANT)
    csrf = await sign_in(browser)

    missing = await browser.post(f"/ui/campaigns/{campaign}/actions/send_now")
    wrong = await browser.post(
        f"/ui/campaigns/{campaign}/actions/send_now", data={"csrf_token": csrf[::-1]}
    )
    right = await browser.post(
        f"/ui/campaigns/{campaign}/actions/send_now", data={"csrf_token": csrf}
    )

    assert (missing.status_code, wrong.status_code) == (403, 403)
    assert "Nothing was changed" in missing.text
    assert right.status_code == 303
    async with runtime.sessions() as session:
        trail = list(await session.execute(select(AuditEntry.actor, AuditEntry.action)))
    assert [tuple(row) for row in trail] == [("olivia", "send_now")]  # one action, by her name


async def test_resume_shows_the_apis_refusal_while_a_breaker_is_open(
    browser: httpx.AsyncClient, runtime: Runtime
) -> None:
    await trip(runtime, "ses")
    csrf = await sign_in(browser)

    page = (await browser.get("/ui")).text
    refused = await browser.post("/ui/resume", data={"csrf_token": csrf})
    after = await browser.get("/ui")
    reset = await browser.post("/ui/breakers/ses/reset", data={"csrf_token": csrf})
    after_reset = (await browser.get("/ui")).text
    resumed = await browser.post("/ui/resume", data={"csrf_token": csrf})
    after_resume = (await browser.get("/ui")).text

    assert "Resuming is manual." in page and "open now: ses" in page
    assert refused.status_code == 303
    assert "Cannot resume: circuit breaker ses is open" in after.text
    assert "Cannot resume" not in (await browser.get("/ui")).text  # a message is shown once
    assert reset.status_code == 303
    assert "Breaker ses reset: CLOSED. Nothing was resumed" in after_reset
    assert resumed.status_code == 303
    assert "Pipeline resumed" in after_resume


async def test_every_page_renders(browser: httpx.AsyncClient, runtime: Runtime) -> None:
    campaign = await make_campaign(runtime.sessions, campaign_status=S.ERROR, error_reason="boom")
    await sign_in(browser)

    pages = {
        "/ui": "Circuit breakers",
        "/ui/parts/overview": "Sub-statuses",
        "/ui/campaigns": "Maple Street newsletter",
        "/ui/campaigns?error=yes&status=ERROR": "1 campaign(s)",
        f"/ui/campaigns/{campaign}": "Retry",
        "/ui/dlq": "email-sender",
        "/ui/dlq/intro": "Nothing here.",
        "/ui/suppressions": "Suppressed addresses",
    }
    for path, expected in pages.items():
        response = await browser.get(path)
        assert response.status_code == 200, (path, response.text)
        assert expected in response.text, path
    missing = await browser.get("/ui/campaigns/999999")
    assert (missing.status_code, "no campaign 999999" in missing.text) == (404, True)


async def test_send_page_pages_recipients_and_shows_the_apis_refusals(
    browser: httpx.AsyncClient, runtime: Runtime
) -> None:
    send_id = await make_send(runtime, recipients=30)
    csrf = await sign_in(browser)

    first = await browser.get(f"/ui/sends/{send_id}")
    second = await browser.get(f"/ui/sends/{send_id}?page=2")
    live = await browser.get(f"/ui/parts/sends/{send_id}")
    await browser.post(
        f"/ui/sends/{send_id}/controls", data={"csrf_token": csrf, "batch_size": "0"}
    )
    refused = (await browser.get(f"/ui/sends/{send_id}")).text
    await browser.post(
        f"/ui/sends/{send_id}/controls", data={"csrf_token": csrf, "cooldown_seconds": "9"}
    )
    saved = (await browser.get(f"/ui/sends/{send_id}")).text
    await browser.post(f"/ui/sends/{send_id}/cancel", data={"csrf_token": csrf})
    await browser.post(f"/ui/sends/{send_id}/resume", data={"csrf_token": csrf})
    cannot = (await browser.get(f"/ui/sends/{send_id}")).text

    assert "Page 1 of 2" in first.text and "owner0@homes.example" in first.text
    assert "Page 2 of 2" in second.text and "owner29@homes.example" in second.text
    assert first.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in first.headers["content-security-policy"]
    assert 'id="count-pending">30<' in live.text and "<html" not in live.text
    assert "batch_size" in refused and "greater than or equal to 1" in refused
    assert "Controls saved: batches of 2, 0 ms between emails, 9 s between batches" in saved
    assert "CANCELLED" in cannot and "only PAUSED" in cannot.replace("\n", " ")


async def test_campaign_list_filters_and_pages(
    browser: httpx.AsyncClient, runtime: Runtime
) -> None:
    for _ in range(3):
        await make_campaign(runtime.sessions, campaign_status=S.ERROR, error_reason="boom")
    await make_campaign(runtime.sessions, campaign_status=S.DORMANT)
    await sign_in(browser)

    first = (await browser.get("/ui/campaigns?status=ERROR&page_size=2")).text
    second = (await browser.get("/ui/campaigns?status=ERROR&page_size=2&page=2")).text
    bad = await browser.get("/ui/campaigns?sub_status=nope")

    assert "3 campaign(s), page 1 of 2" in first
    assert 'href="/ui/campaigns?status=ERROR&amp;page_size=2&amp;page=2"' in first
    assert "3 campaign(s), page 2 of 2" in second
    assert bad.status_code == 422 and "sub_status" in bad.text and "property_status" in bad.text


async def test_suppressions_are_shown_and_lifted_from_the_dashboard(
    browser: httpx.AsyncClient, runtime: Runtime
) -> None:
    send_id = await make_send(runtime, recipients=1)
    async with runtime.sessions() as session:
        delivery = await session.scalar(select(Delivery).where(Delivery.send_id == send_id))
        assert delivery is not None
        email = delivery.email.lower()
        await suppress(session, email, SuppressionReason.BOUNCE, "smtp; 550 no such user", delivery)
        await session.commit()
    csrf = await sign_in(browser)

    listed = await browser.get("/ui/suppressions")
    forged = await browser.post(f"/ui/suppressions/{email}/lift", data={})
    lifted = await browser.post(f"/ui/suppressions/{email}/lift", data={"csrf_token": csrf})
    after = (await browser.get("/ui/suppressions")).text
    history = (await browser.get("/ui/suppressions?lifted=true")).text
    send_page = (await browser.get(f"/ui/sends/{send_id}")).text
    campaign_page = (await browser.get(f"/ui/campaigns/{delivery.campaign_id}")).text

    assert listed.status_code == 200 and email in listed.text and "550 no such user" in listed.text
    assert forged.status_code == 403
    assert lifted.status_code == 303
    assert f"{email} is no longer suppressed" in after and "Nothing here." in after
    assert email in history and "olivia" in history
    assert 'id="count-bounced">0' in send_page
    assert "All cycles: 0 sent, 0 bounced, 0 complaint(s)." in campaign_page


async def test_an_operator_named_in_any_script_signs_in_acts_and_is_audited_by_name(
    browser: httpx.AsyncClient, runtime: Runtime
) -> None:
    send_id = await make_send(runtime)
    name = "José Ñúñez 王"
    csrf = await sign_in(browser, name)

    pages = [await browser.get(path) for path in ("/ui", "/ui/campaigns", f"/ui/sends/{send_id}")]
    paused = await browser.post(f"/ui/sends/{send_id}/pause", data={"csrf_token": csrf})
    out = await browser.post("/ui/logout", data={"csrf_token": csrf})

    assert [p.status_code for p in pages] == [200, 200, 200]
    assert name in pages[0].text
    assert paused.status_code == 303 and out.status_code == 303
    async with runtime.sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "pause_send"))
    assert entry is not None and entry.actor == name


async def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(
    browser: httpx.AsyncClient, api_url: str
) -> None:
    csrf = await sign_in(browser)
    copied = dict(browser.cookies)
    async with httpx.AsyncClient(base_url=api_url, cookies=copied) as thief:
        before = await thief.get("/ui")
        await browser.post("/ui/logout", data={"csrf_token": csrf})
        after = await thief.get("/ui")
        forged = await thief.post("/ui/sends/1/pause", data={"csrf_token": csrf})

    assert before.status_code == 200
    assert (after.status_code, after.headers["location"]) == (303, "/ui/login")
    assert forged.status_code == 403


async def test_sign_in_attempts_are_limited_per_address_with_retry_after(
    browser: httpx.AsyncClient,
) -> None:
    form = await browser.get("/ui/login")
    csrf = csrf_of(form.text)

    def attempt(token: str) -> Awaitable[httpx.Response]:
        data = {"operator": "mallory", "token": token, "csrf_token": csrf}
        return browser.post("/ui/login", data=data)

    wrong = [await attempt(f"guess-{n}") for n in range(5)]
    limited = await attempt(TOKEN)  # even the right token waits now

    assert [r.status_code for r in wrong] == [401] * 5
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 300
    assert "Too many failed sign-ins" in limited.text
    assert (await browser.get("/ui")).status_code == 303  # nobody signed in
