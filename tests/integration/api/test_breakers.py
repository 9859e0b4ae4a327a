"""Seed 003 in dripr: a dependency outage opens its breaker and pauses everything; only an
operator's resume, refused while a breaker is open, starts it again."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import httpx
from sqlalchemy import select, update

from infra.provision import Report
from services.email_sender.app import handle_batch
from services.email_sender.delivery import SendConfig
from shared.adapters.aws import async_client
from shared.adapters.db.models import Campaign, CircuitBreakerRow, Delivery
from shared.adapters.providers.mailer import OutgoingEmail, SesMailer
from shared.adapters.topology import TOPOLOGY
from shared.bootstrap import Runtime
from shared.devtools.emulator import moto_sent_emails
from shared.domain.errors import PermanentError, TransientError
from shared.domain.events import SendBatch, StatusChange
from shared.domain.statuses import BreakerState, DeliveryStatus, PipelineState
from shared.service_layer import sends
from shared.service_layer.breakers import CircuitBreaker, Guarded
from shared.service_layer.pausing import PauseGate, ensure_rows, pause, pipeline_state
from tests.factories import make_send
from tests.support import eventually, receive_all

CONFIG = SendConfig("https://news.example", "a-test-secret-of-some-length", retry_base_seconds=0)


class Outage:
    """SES through its breaker, down until `up` is set; then the real emulator's SES."""

    def __init__(self, ses: Any) -> None:
        self.real = SesMailer(ses, "newsletters@dripr.example")
        self.up = False
        self.calls = 0

    async def send(self, email: OutgoingEmail) -> str:
        self.calls += 1
        if not self.up:
            raise TransientError("ses", "ServiceUnavailable: try again later")
        return await self.real.send(email)


async def _threshold(runtime: Runtime, name: str, value: int) -> None:
    async with runtime.sessions() as session:
        await ensure_rows(session)
        await session.execute(
            update(CircuitBreakerRow).where(CircuitBreakerRow.name == name).values(threshold=value)
        )
        await session.commit()


async def _batches(runtime: Runtime, topology: Report) -> list[SendBatch]:
    messages = await receive_all(runtime.sqs, topology.queue_urls["email-sender"], rounds=5)
    bodies = [json.loads(m["Body"]) for m in messages]
    return [SendBatch.model_validate(b) for b in bodies if b["event_type"] == "SEND_BATCH"]


async def test_outage_pauses_everything_and_only_a_manual_resume_continues(
    api: httpx.AsyncClient, runtime: Runtime, topology: Report
) -> None:
    await _threshold(runtime, "ses", 3)
    send_id = await make_send(runtime, recipients=4)
    async with runtime.sessions() as session:
        send = await session.get(sends.Send, send_id)
        assert send is not None
        campaign_id = send.campaign_id
    breaker = CircuitBreaker("ses", runtime.sessions)
    async with async_client(runtime.aws, "ses", runtime.settings) as ses:
        outage = Outage(ses)
        mailer = Guarded(outage, breaker)

        async def run_batch(batch: SendBatch) -> None:
            try:
                await handle_batch(
                    batch,
                    runtime.unit_of_work("email-sender", batch.event_id),
                    sessions=runtime.sessions,
                    mailer=mailer,
                    config=CONFIG,
                    breaker=breaker,
                )
            except Exception as exc:  # what the consumer runtime would see
                print("batch raised", type(exc).__name__, exc)

        (first,) = await _batches(runtime, topology)
        await run_batch(first)

        # The cascade, in the database:
        status = (await api.get("/api/v1/queue-management/status")).json()
        assert status["queue_state"] == "PAUSED"
        assert status["reason"].startswith("circuit breaker ses opened: ses: ServiceUnavailable")
        ses_breaker = next(b for b in status["breakers"] if b["name"] == "ses")
        assert (ses_breaker["state"], ses_breaker["failures"]) == ("OPEN", 3)
        assert [c["id"] for c in status["paused_campaigns"]] == [campaign_id]
        progress = (await api.get(f"/api/v1/sends/{send_id}")).json()
        assert progress["status"] == "PAUSED" and progress["status_reason"].startswith("pipeline")
        async with runtime.sessions() as session:
            states = list(
                await session.scalars(select(Delivery.status).where(Delivery.send_id == send_id))
            )
        assert states == [DeliveryStatus.PENDING] * 4  # nothing failed: it waits for the resume
        # ... and every consumer now holds back, whatever it depends on.
        for queue in TOPOLOGY.queues:
            assert await PauseGate(runtime.sessions, ()).held() is not None, queue.name

        refused = await api.post("/api/v1/queue-management/resume")
        assert refused.status_code == 409
        assert refused.json()["message"] == "Cannot resume: circuit breaker ses is open"
        async with runtime.sessions() as session:
            assert (await pipeline_state(session)).state is PipelineState.PAUSED  # type: ignore[union-attr]

        reset = await api.post("/api/v1/queue-management/breakers/ses/reset")
        assert (reset.json()["state"], reset.json()["failures"]) == ("CLOSED", 0)
        after_reset = (await api.get("/api/v1/queue-management/status")).json()
        assert after_reset["queue_state"] == "PAUSED"  # resetting resumes nothing
        assert len(after_reset["paused_campaigns"]) == 1
        assert (await api.get(f"/api/v1/sends/{send_id}")).json()["status"] == "PAUSED"

        outage.up = True
        resumed = await api.post("/api/v1/queue-management/resume")
        assert resumed.status_code == 200, resumed.text
        assert resumed.json() == {
            "queue_state": "RUNNING",
            "campaigns_resumed": 1,
            "sends_resumed": 1,
        }
        for _ in range(4):  # the send continues where it stopped, batch after batch
            batches = await _batches(runtime, topology)
            if not batches:
                break
            for batch in batches:
                await run_batch(batch)

    done = (await api.get(f"/api/v1/sends/{send_id}")).json()
    assert (done["status"], done["sent"], done["failed"]) == ("COMPLETED", 4, 0)
    sent = moto_sent_emails(runtime.settings.aws_endpoint_url or "")
    addresses = [a for m in sent for a in m["destinations"]["ToAddresses"]]
    assert len(addresses) == 4 == len(set(addresses))  # no duplicate email
    async with runtime.sessions() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None and not campaign.paused


async def test_bad_input_never_opens_a_breaker(runtime: Runtime) -> None:
    await _threshold(runtime, "property-data", 2)
    breaker = CircuitBreaker("property-data", runtime.sessions)

    async def not_found() -> None:
        raise PermanentError("property-data", "address not found")

    for _ in range(5):
        with contextlib.suppress(PermanentError):
            await breaker.call(not_found)

    async with runtime.sessions() as session:
        row = await session.get(CircuitBreakerRow, "property-data")
        assert row is not None and (row.state, row.failures) == (BreakerState.CLOSED, 0)
        assert (await pipeline_state(session)).state is PipelineState.RUNNING  # type: ignore[union-attr]


async def test_a_paused_pipeline_leaves_messages_waiting_in_sqs(
    api: httpx.AsyncClient, runtime: Runtime, topology: Report
) -> None:
    async with runtime.sessions() as session:
        await pause(session, "maintenance", by="test")
        await session.commit()
    handled: list[StatusChange] = []

    async def handle(event: StatusChange, uow: Any) -> None:
        handled.append(event)

    consumer = await runtime.consumer(TOPOLOGY.queue("home-report"), {StatusChange: handle})
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    event = StatusChange(
        campaign_id=5,
        cycle=1,
        from_status="WAITING_FOR_DATA",
        to_status="WAITING_FOR_HOME_ANALYSIS",
    )
    await runtime.publisher.publish(event)
    try:
        await asyncio.sleep(3)
        depth = (await api.get("/api/v1/queues")).json()
        assert next(q for q in depth if q["name"] == "home-report")["visible"] == 1
        assert handled == []

        assert (await api.post("/api/v1/queue-management/resume")).status_code == 200
        await eventually(lambda: _handled(handled), within=15)
    finally:
        stop.set()
        await task
    assert handled == [event]


async def _handled(handled: list[StatusChange]) -> bool:
    return bool(handled)


async def test_the_property_data_api_failing_opens_its_breaker_and_pauses_the_pipeline(
    runtime: Runtime,
) -> None:
    """Through real HTTP: the stand-in answers 503 until the breaker opens."""
    from services.data_fetcher.app import steps
    from shared.adapters.providers.http_data import HttpDataProvider
    from tests.factories import start
    from tests.standins.property_api import property_api_standin

    await _threshold(runtime, "property-data", 2)
    events = [await start(runtime) for _ in range(3)]
    async with property_api_standin(api_key="k") as standin:
        standin.fail_next("/v1/properties", [503] * 20)
        provider = HttpDataProvider(standin.url, "k", attempts=2, backoff=0.01)
        guarded = Guarded(provider, CircuitBreaker("property-data", runtime.sessions))
        step = steps(guarded)["property"]
        outcomes = []
        for event in events:
            try:
                await step.handle(event, runtime.unit_of_work("property", event.event_id))
                outcomes.append("ok")
            except TransientError:
                outcomes.append("transient")
            except Exception as exc:
                outcomes.append(type(exc).__name__)
        await provider.aclose()
        requests = len(standin.paths())

    assert outcomes == ["transient", "transient", "Retry"]  # the third never calls the API
    assert requests == 4  # two handles, each the adapter's 2 attempts: 2 breaker failures
    async with runtime.sessions() as session:
        row = await session.get(CircuitBreakerRow, "property-data")
        state = await pipeline_state(session)
    assert row is not None and row.state is BreakerState.OPEN
    assert state is not None and state.state is PipelineState.PAUSED


async def test_threshold_and_ignored_errors_are_configurable(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    changed = await api.patch("/api/v1/queue-management/breakers/bedrock", json={"threshold": 2})
    invalid = await api.patch("/api/v1/queue-management/breakers/bedrock", json={"threshold": 0})
    unknown = await api.patch("/api/v1/queue-management/breakers/nope", json={"threshold": 2})
    tolerant = CircuitBreaker("bedrock", runtime.sessions, ignore=("Throttling",))

    async def throttled() -> None:
        raise TransientError("bedrock", "ThrottlingException (HTTP 429): slow down")

    async def down() -> None:
        raise TransientError("bedrock", "ServiceUnavailableException (HTTP 503)")

    for call in (throttled, throttled, throttled, down):
        with contextlib.suppress(TransientError):
            await tolerant.call(call)

    assert changed.json()["threshold"] == 2
    assert (invalid.status_code, unknown.status_code) == (422, 404)
    async with runtime.sessions() as session:
        row = await session.get(CircuitBreakerRow, "bedrock", populate_existing=True)
    assert row is not None and (row.failures, row.state) == (1, BreakerState.CLOSED)
