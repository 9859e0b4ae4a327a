"""The operator dashboard in a real headless Chromium, against the control API over HTTP, the
test database and the emulator: sign in, steer breakers and the manual resume, approve a
campaign, pause and resume a running send, redrive a dead letter, and refuse forged forms."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator

import pytest

from tests.e2e.dashboard_support import CHROMIUM

if not CHROMIUM.exists():
    pytest.skip(
        f"no Chromium at {CHROMIUM} (apt-get install chromium); the dashboard's browser "
        "tests need it",
        allow_module_level=True,
    )

from playwright.async_api import Browser, Dialog, Page, expect
from sqlalchemy import select

from infra.provision import Report
from services.email_sender.app import run as run_sender
from shared.adapters.db.models import AuditEntry
from shared.bootstrap import Runtime
from tests.e2e.dashboard_support import (
    LAPTOP,
    PHONE,
    chromium,
    dead_letter,
    running_send,
    served,
    shot,
    sign_in,
    some_campaigns,
    waiting_for_approval,
)
from tests.integration.api.ui import trip
from tests.support import slack

WAIT = int(15_000 * slack())
"""Milliseconds to wait for a live region to show a change; longer on a busy machine."""


@pytest.fixture
async def url(runtime: Runtime) -> AsyncIterator[str]:
    async with served(runtime) as base:
        yield base


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def page(browser: Browser, url: str) -> AsyncIterator[Page]:
    context = await browser.new_context(base_url=url, viewport=LAPTOP)  # type: ignore[arg-type]
    opened = await context.new_page()

    async def accept(dialog: Dialog) -> None:  # the data-confirm prompts: the operator says yes
        await dialog.accept()

    opened.on("dialog", accept)
    yield opened
    await context.close()


async def _audit(runtime: Runtime) -> list[tuple[str, str]]:
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(AuditEntry.actor, AuditEntry.action).order_by(AuditEntry.id)
        )
        return [(actor, action) for actor, action in rows]


async def test_sign_in_refuses_a_wrong_token_then_opens_the_overview(page: Page) -> None:
    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/ui/login$"))
    await shot(page, "sign-in")

    await page.get_by_label("Your name").fill("mallory")
    await page.get_by_label("Operator token").fill("guessing-at-the-token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("That is not the operator token")
    await page.goto("/ui")
    await expect(page).to_have_url(re.compile(r"/ui/login$"))  # still nobody signed in

    await sign_in(page)
    await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    await expect(page.get_by_role("status")).to_contain_text("Signed in as olivia")
    for section in ("Circuit breakers", "Queues", "Sub-statuses"):
        await expect(page.get_by_role("heading", name=section, exact=False)).to_be_visible()
    await expect(page.locator("#queue-email-sender")).to_contain_text("RUNNING")


async def test_an_open_breaker_refuses_resume_until_reset_then_resume(
    page: Page, runtime: Runtime
) -> None:
    await some_campaigns(runtime)
    await sign_in(page)
    await expect(page.locator("#breaker-ses")).to_contain_text("CLOSED")

    await trip(runtime, "ses")  # five SES outages in a row, as the sender would record them

    # The overview refreshes itself: the breaker opens, the queues are held.
    await expect(page.locator("#breaker-ses")).to_contain_text("OPEN", timeout=WAIT)
    await expect(page.locator("#breaker-ses")).to_contain_text("ServiceUnavailable")
    await expect(page.locator("#queue-email-sender")).to_contain_text("PAUSED")
    await expect(page.locator("#resume-hint")).to_contain_text("Resuming is manual")
    await shot(page, "overview-open-breaker")

    await page.get_by_role("button", name="Resume pipeline").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Cannot resume: circuit breaker ses is open"
    )
    await expect(page.locator("#pipeline-h")).to_contain_text("PAUSED")

    await page.get_by_role("button", name="Reset ses").click()
    await expect(page.get_by_role("status")).to_contain_text("Nothing was resumed")
    await expect(page.locator("#breaker-ses")).to_contain_text("CLOSED")
    await expect(page.locator("#pipeline-h")).to_contain_text("PAUSED")  # reset resumes nothing

    await page.get_by_role("button", name="Resume pipeline").click()
    await expect(page.get_by_role("status")).to_contain_text("Pipeline resumed")
    await expect(page.locator("#pipeline-h")).to_contain_text("RUNNING")
    await expect(page.locator("#queue-email-sender")).to_contain_text("RUNNING")
    assert await _audit(runtime) == [
        ("olivia", "reset_breaker"),
        ("olivia", "resume_pipeline"),  # the refused attempt changed nothing and logged nothing
    ]


async def test_approve_a_campaign_waiting_for_approval(
    page: Page, runtime: Runtime, topology: Report
) -> None:
    campaign = await waiting_for_approval(runtime)
    await dead_letter(runtime, topology, campaign, "LLM timed out after 60 s")
    await sign_in(page)

    await page.get_by_role("link", name="Campaigns").click()
    await page.get_by_label("Status", exact=True).select_option("WAITING_FOR_MANUAL_APPROVAL")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.get_by_text("1 campaign(s)")).to_be_visible()
    await page.get_by_role("link", name="Elm Way").click()

    await expect(page.locator("#status-h")).to_contain_text("WAITING_FOR_MANUAL_APPROVAL")
    await expect(page.get_by_role("button", name="Retry")).to_have_count(0)  # only where it applies
    await expect(page.get_by_text("LLM timed out after 60 s")).to_be_visible()
    await expect(page.locator(".timeline li")).to_have_count(2)  # the cycle began, the email waits
    await expect(page.locator(".timeline li").last).to_contain_text("WAITING_FOR_MANUAL_APPROVAL")
    await shot(page, "campaign")

    await page.get_by_role("button", name="Approve").click()
    await expect(page.get_by_role("status")).to_contain_text("Approve: done")
    await expect(page.locator("#status-h")).to_contain_text("READY_TO_SEND_EMAIL")
    await expect(page.locator(".timeline li").last).to_contain_text("READY_TO_SEND_EMAIL")
    await expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    assert ("olivia", "approve") in await _audit(runtime)


async def test_pause_and_resume_a_send_while_its_counts_move(
    page: Page, runtime: Runtime, topology: Report
) -> None:
    send_id = await running_send(runtime, recipients=12)
    stop = asyncio.Event()
    sender = asyncio.create_task(run_sender(runtime, stop))  # the real email sender service
    try:
        await sign_in(page)
        await page.goto(f"/ui/sends/{send_id}")
        sent = page.locator("#count-sent")
        await expect(sent).not_to_have_text("0", timeout=WAIT)  # counts move by themselves
        await shot(page, "send")

        await page.get_by_role("button", name="Pause send").click()
        await expect(page.locator("#progress-h")).to_contain_text("PAUSED")
        held = await _settled(page)
        await asyncio.sleep(2.5)  # two cooldowns: a running send would have moved on
        assert await _settled(page) == held
        assert 0 < held < 12

        await page.get_by_label("Cooldown between batches (s)").fill("0")
        await page.get_by_role("button", name="Save controls").click()
        await expect(page.get_by_role("status")).to_contain_text("0 s between batches")

        await page.get_by_role("button", name="Resume send").click()
        await expect(page.get_by_role("status")).to_contain_text("RUNNING")
        await expect(page.locator("#progress-h")).to_contain_text("COMPLETED", timeout=WAIT)
        await expect(sent).to_have_text("12")
        await expect(page.locator("#count-pending")).to_have_text("0")
        await expect(page.locator("#send-progress")).to_have_attribute("value", "12")
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(sender, 15)
    actions = [action for _, action in await _audit(runtime)]
    assert actions == ["pause_send", "send_controls", "resume_send"]


async def _settled(page: Page) -> int:
    """The sent count once it stops changing (a batch stops at its next recipient)."""
    last = -1
    for _ in range(20):
        now = int(await page.locator("#count-sent").inner_text())
        if now == last:
            return now
        last = now
        await asyncio.sleep(0.7)
    raise AssertionError("the sent count never settled")


async def test_dead_letters_preview_then_redrive(
    page: Page, runtime: Runtime, topology: Report
) -> None:
    await dead_letter(runtime, topology, 41, "LLM timed out after 60 s")
    await dead_letter(runtime, topology, 42, "provider said 404")
    await sign_in(page)

    await page.get_by_role("link", name="Dead letters").click()
    await page.get_by_role("link", name="intro").click()
    await expect(page.get_by_role("heading", name="Peek: 2 message(s)")).to_be_visible()
    await page.get_by_label("Error contains").fill("timed out")
    await page.get_by_role("button", name="Preview redrive").click()
    await expect(page.get_by_role("heading", name="Preview: 1 message(s)")).to_be_visible()
    await expect(page.locator(".preview")).to_contain_text("#41")
    await expect(page.locator(".preview")).not_to_contain_text("#42")
    await shot(page, "dlq")

    await page.get_by_role("button", name="Redrive these 1").click()
    await expect(page.get_by_role("status")).to_contain_text("Redrove 1 message(s)")
    await expect(page.get_by_role("heading", name="Peek: 1 message(s)")).to_be_visible()
    assert await _audit(runtime) == [("olivia", "redrive")]


async def test_forged_forms_are_refused(page: Page, runtime: Runtime, url: str) -> None:
    await trip(runtime, "ses")
    await sign_in(page)

    # Same browser, signed in, but no CSRF token in the form: 403, nothing changes.
    missing = await page.request.post("/ui/breakers/ses/reset", form={"x": "1"})
    assert missing.status == 403
    assert "Nothing was changed" in await missing.text()

    # Another site's page posting a form here: SameSite=Strict keeps the cookie home.
    await page.set_content(
        f'<form method="post" action="{url}/ui/breakers/ses/reset">'
        '<input name="csrf_token" value="guessed"><button>win a prize</button></form>'
    )
    await page.get_by_role("button", name="win a prize").click()
    await expect(page.get_by_role("heading", name="Form refused")).to_be_visible()

    await page.goto("/ui")
    await expect(page.locator("#breaker-ses")).to_contain_text("OPEN")
    assert await _audit(runtime) == []


async def test_readable_on_a_phone(browser: Browser, url: str, runtime: Runtime) -> None:
    await some_campaigns(runtime)
    await trip(runtime, "ses")
    context = await browser.new_context(base_url=url, viewport=PHONE, is_mobile=True)  # type: ignore[arg-type]
    page = await context.new_page()
    try:
        await sign_in(page)
        await expect(page.locator("#breaker-ses")).to_contain_text("OPEN")
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, "the page scrolls sideways on a phone; only tables may"
        await page.keyboard.press("Tab")  # the skip link comes first, and shows itself
        await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
        await page.keyboard.press("Escape")
        await page.locator("body").click(position={"x": 5, "y": 300})
        await shot(page, "phone", full_page=False)
    finally:
        await context.close()
