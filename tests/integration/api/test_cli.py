"""The `dripr` operator commands against a running control API."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from sqlalchemy import select, update

from services.email_creation.app import EMAIL_STEP
from shared.adapters.db.models import CircuitBreakerRow, Delivery
from shared.bootstrap import Runtime
from shared.domain.feedback import SuppressionReason
from shared.domain.statuses import BreakerState
from shared.domain.statuses import CampaignStatus as S
from shared.service_layer.feedback import suppress
from shared.service_layer.pausing import pause
from tests.factories import load, make_campaign, make_send, ready_to_create, start
from tests.integration.api.conftest import TOKEN


async def dripr(api_url: str, *args: str, token: str = TOKEN) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DRIPR_API_URL": api_url, "DRIPR_API_TOKEN": token, "COLUMNS": "200"}
    command = [sys.executable, "-m", "shared.entrypoints.cli", *args]
    return await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=60
    )


async def test_campaigns_create_list_show(api_url: str, runtime: Runtime) -> None:
    created = await dripr(
        api_url,
        "campaigns",
        "create",
        "--json",
        "--name",
        "CLI made",
        "--agent-name",
        "Ada",
        "--agent-email",
        "ada@realty.example",
        "--market-area",
        "Boise, ID",
        "--no-address",
        "--recipient",
        "a@homes.example",
        "--recipient",
        "b@homes.example",
        "--first-send",
        "2030-12-24T09:00+01:00",
    )
    assert created.returncode == 0, created.stdout + created.stderr
    campaign_id = json.loads(created.stdout)["id"]
    assert json.loads(created.stdout)["next_send_datetime"] == "2030-12-24T08:00:00Z"
    stored = await load(runtime.sessions, campaign_id)
    assert (stored.name, stored.next_send_datetime.isoformat()) == (
        "CLI made",
        "2030-12-24T08:00:00",
    )
    zoneless = await dripr(api_url, "campaigns", "create", "--first-send", "2030-12-24T09:00")
    assert zoneless.returncode == 2 and "has no zone: add Z for UTC" in zoneless.stderr

    listed = await dripr(api_url, "campaigns", "list")
    shown = await dripr(api_url, "campaigns", "show", str(campaign_id), "--json")

    assert listed.returncode == 0 and "1 in all" in listed.stderr
    header, *rows = [line.split("\t") for line in listed.stdout.splitlines()]  # piped: TSV
    assert header[:2] == ["id", "name"] and "campaign_status" in header and len(rows) == 1
    assert dict(zip(header, rows[0], strict=True))["name"] == "CLI made"
    assert json.loads(shown.stdout)["recipients"] == 2


async def test_approve_prints_counts_and_refusals(api_url: str, runtime: Runtime) -> None:
    event = await ready_to_create(runtime, requires_approval=True)
    await EMAIL_STEP.handle(event, runtime.unit_of_work("email-creation", event.event_id))
    dormant = await make_campaign(runtime.sessions)

    result = await dripr(api_url, "approve", str(event.campaign_id), str(dormant))

    assert result.returncode == 3  # partly refused: scripts can tell, from a usage error too
    assert "approve: 1 updated" in result.stderr
    assert f"campaign {dormant} is DORMANT: cannot approve" in result.stdout
    assert (await load(runtime.sessions, event.campaign_id)).campaign_status is (
        S.READY_TO_SEND_EMAIL
    )


async def test_errors_print_the_api_message_and_exit_non_zero(api_url: str) -> None:
    unknown = await dripr(api_url, "approve", "424242")
    unauthorised = await dripr(api_url, "queues", token="wrong-token-wrong-token")
    unreachable = await dripr("http://127.0.0.1:9", "queues")
    no_queue = await dripr(api_url, "dlq", "peek", "nope")

    assert unknown.returncode == 1
    assert "no such campaign(s): 424242; nothing was changed (HTTP 404)" in unknown.stdout
    assert (
        unauthorised.returncode == 1 and "a valid bearer token is required" in unauthorised.stdout
    )
    assert unreachable.returncode == 1 and "cannot reach the control API" in unreachable.stdout
    assert no_queue.returncode == 1 and "no queue named 'nope'" in no_queue.stdout


async def test_usage_errors_and_the_version_have_their_own_exit_status(api_url: str) -> None:
    typo = await dripr(api_url, "aprove", "1")
    version = await dripr(api_url, "--version")

    assert typo.returncode == 2 and "invalid choice: 'aprove'" in typo.stderr
    assert version.returncode == 0 and version.stdout.startswith("dripr 0.")
    assert "3 done in part" in (await dripr(api_url, "--help")).stdout


async def test_queues_and_dlq_redrive_dry_run(api_url: str, runtime: Runtime) -> None:
    queues = await dripr(api_url, "queues", "--json")
    dry = await dripr(api_url, "dlq", "redrive", "intro", "--dry-run", "--json")

    assert {q["name"] for q in json.loads(queues.stdout)} >= {"intro", "email-sender"}
    assert json.loads(dry.stdout)["dry_run"] is True


async def test_sends_progress_pause_and_controls(api_url: str, runtime: Runtime) -> None:
    send_id = await make_send(runtime)

    shown = await dripr(api_url, "sends", "progress", str(send_id), "--json")
    paused = await dripr(api_url, "sends", "pause", str(send_id))
    again = await dripr(api_url, "sends", "pause", str(send_id))
    controls = await dripr(
        api_url, "sends", "controls", str(send_id), "--delay-ms", "250", "--json"
    )

    assert (json.loads(shown.stdout)["total"], json.loads(shown.stdout)["status"]) == (3, "RUNNING")
    assert paused.returncode == 0 and "PAUSED" in paused.stdout
    assert again.returncode == 1 and "only RUNNING can pause (HTTP 409)" in again.stdout
    assert json.loads(controls.stdout)["delay_ms"] == 250


async def test_queues_status_resume_and_breakers(api_url: str, runtime: Runtime) -> None:
    campaign = (await start(runtime)).campaign_id
    async with runtime.sessions() as session:
        await pause(session, "circuit breaker bedrock opened: throttled", by="test")
        await session.execute(
            update(CircuitBreakerRow)
            .where(CircuitBreakerRow.name == "bedrock")
            .values(state=BreakerState.OPEN)
        )
        await session.commit()

    status = json.loads((await dripr(api_url, "queues", "status", "--json")).stdout)
    paused = json.loads((await dripr(api_url, "campaigns", "list", "--paused", "--json")).stdout)
    refused = await dripr(api_url, "queues", "resume")
    reset = await dripr(api_url, "breakers", "reset", "bedrock")
    resumed = await dripr(api_url, "queues", "resume", "--json")

    assert status["queue_state"] == "PAUSED"
    assert [c["id"] for c in status["paused_campaigns"]] == [campaign]
    assert [c["id"] for c in paused["items"]] == [campaign]
    assert refused.returncode == 1
    assert "Cannot resume: circuit breaker bedrock is open (HTTP 409)" in refused.stdout
    assert reset.returncode == 0 and "CLOSED" in reset.stdout
    assert json.loads(resumed.stdout) == {
        "queue_state": "RUNNING",
        "campaigns_resumed": 1,
        "sends_resumed": 0,
    }
    assert not (await load(runtime.sessions, campaign)).paused


async def test_suppressions_list_and_lift(api_url: str, runtime: Runtime) -> None:
    send_id = await make_send(runtime, recipients=1)
    async with runtime.sessions() as session:
        delivery = await session.scalar(select(Delivery).where(Delivery.send_id == send_id))
        assert delivery is not None
        await suppress(session, delivery.email.lower(), SuppressionReason.COMPLAINT, None, delivery)
        await session.commit()
    email = delivery.email.lower()

    listed = await dripr(api_url, "suppressions", "list", "--reason", "COMPLAINT")
    lifted = await dripr(api_url, "suppressions", "lift", email, "--json")
    again = await dripr(api_url, "suppressions", "lift", email)
    empty = await dripr(api_url, "suppressions", "list", "--json")

    assert listed.returncode == 0 and email in listed.stdout and "COMPLAINT" in listed.stdout
    assert lifted.returncode == 0 and json.loads(lifted.stdout)["lifted_at"]
    assert again.returncode == 1 and "is not suppressed" in again.stdout
    assert json.loads(empty.stdout)["total"] == 0
