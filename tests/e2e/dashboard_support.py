"""What the dashboard's browser tests stand on: the control API served over HTTP, Debian's
Chromium driven by Playwright, data worth looking at, and screenshots on request.

Set DRIPR_SCREENSHOTS=<directory> (or run `python -m tests.e2e.screenshots`) and the tests save
docs-quality PNGs of the pages they visit.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import uvicorn
from playwright.async_api import Browser, Page, async_playwright
from pydantic import SecretStr

from infra.provision import Report
from services.control_api.app import create_app
from services.email_creation.app import EMAIL_STEP
from shared.bootstrap import Runtime
from shared.devtools.emulator import free_port
from shared.domain.clock import utcnow_naive
from shared.domain.events import StatusChange
from shared.domain.statuses import CampaignStatus as S
from shared.domain.statuses import SubStatus
from shared.service_layer import sends
from tests.factories import make_campaign, make_send, ready_to_create
from tests.integration.api.conftest import TOKEN

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
LAPTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
REFRESH_MS = 500
"""Live regions refresh this often in the tests (2 s in service), to keep the tests quick."""


@asynccontextmanager
async def served(runtime: Runtime) -> AsyncIterator[str]:
    """The control API, dashboard included, on localhost over real HTTP."""
    app = create_app(runtime.settings.model_copy(update={"api_token": SecretStr(TOKEN)}), runtime)
    app.state.dashboard = replace(app.state.dashboard, refresh_ms=REFRESH_MS)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


async def sign_in(page: Page, operator: str = "olivia") -> None:
    """Through the form, by keyboard: type, Tab, type, Enter."""
    await page.goto("/ui")
    await page.get_by_label("Your name").fill(operator)
    await page.keyboard.press("Tab")
    await page.keyboard.type(TOKEN)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/ui")


async def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    """Save docs/images/dashboard-<name>.png when DRIPR_SCREENSHOTS names a directory."""
    directory = os.environ.get("DRIPR_SCREENSHOTS")
    if not directory:
        return
    await asyncio.to_thread(Path(directory).mkdir, parents=True, exist_ok=True)
    await page.screenshot(path=str(Path(directory) / f"dashboard-{name}.png"), full_page=full_page)


async def some_campaigns(runtime: Runtime) -> None:
    """A few campaigns in different states, so the overview has something to count."""
    later = utcnow_naive() + timedelta(days=12)
    names = ["Elm Way update", "Harbor View", "Cedar Court", "Maple Street", "Pine Ridge"]
    for name in names:
        await make_campaign(runtime.sessions, name=name, next_send_datetime=later)
    await make_campaign(
        runtime.sessions,
        name="Birch Lane",
        campaign_status=S.ERROR,
        error_from_status=S.WAITING_FOR_DATA,
        error_reason="property data: 404 no such address",
        property_status=SubStatus.ERROR,
    )
    await make_campaign(
        runtime.sessions,
        name="Oak Hollow",
        campaign_status=S.WAITING_FOR_DATA,
        property_status=SubStatus.READY,
        active_listing_status=SubStatus.WAITING_FOR_DATA,
    )


async def waiting_for_approval(runtime: Runtime) -> int:
    """A campaign whose email is written and waits for an operator, with a real history."""
    event = await ready_to_create(runtime, recipients=3, requires_approval=True, name="Elm Way")
    await EMAIL_STEP.handle(event, runtime.unit_of_work("email-creation", event.event_id))
    return event.campaign_id


async def running_send(runtime: Runtime, recipients: int) -> int:
    """A send paced slowly enough to watch its counts move."""
    controls = sends.Controls(batch_size=2, delay_ms=150, cooldown_seconds=1)
    return await make_send(runtime, recipients, controls, name="Harbor View")


async def dead_letter(runtime: Runtime, topology: Report, campaign_id: int, reason: str) -> None:
    """A STATUS_CHANGE the intro consumer gave up on, as the consumer runtime leaves it."""
    event = StatusChange(
        campaign_id=campaign_id,
        cycle=1,
        from_status="WAITING_FOR_DATA",
        to_status="READY_TO_CREATE_EMAIL",
    )
    await runtime.sqs.send_message(
        QueueUrl=topology.dlq_urls["intro"],
        MessageBody=event.model_dump_json(),
        MessageAttributes={
            "failure_reason": {"DataType": "String", "StringValue": reason},
            "failed_consumer": {"DataType": "String", "StringValue": "intro"},
        },
    )
