"""Observability end to end: every pipeline service its own process, exporting to a local OTLP
receiver, and each one's probe endpoint scraped.

One campaign cycle, from the scheduler through every service to the last email, must be one
trace with a span from each service in the pipeline's order, each handler linked to the publish
that sent its message and the fan-in linked to its other branches; a dead letter keeps its
trace id; `/metrics` moves by exactly the messages sent.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import httpx
from opentelemetry import context, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from infra.provision import Report
from shared.adapters.db.models import Campaign, Delivery
from shared.bootstrap import Runtime
from shared.config import Settings
from shared.devtools.demo.processes import PIPELINE, ServiceProcess, service_environment
from shared.devtools.demo.seed import seed
from shared.domain.events import SendBatch
from shared.domain.sends import SENDER_QUEUE
from shared.domain.statuses import CampaignStatus as S
from shared.domain.statuses import DeliveryStatus
from tests.standins.otlp import OtlpReceiver, ReceivedSpan, otlp_receiver
from tests.support import eventually

STAGES = [
    {"property", "active-listings", "recent-sales", "local-market", "intro"},
    {"home-report"},
    {"email-creation"},
    {"email-sender"},
]
"""The consumers a cycle passes through, stage by stage; the first stage is the fan-in's."""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(process: ServiceProcess) -> Samples:
    text = httpx.get(f"{process.probe_url}/metrics", timeout=5).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def messages(samples: Samples, consumer: str, outcome: str) -> float:
    return value(samples, "dripr_messages_total", consumer=consumer, outcome=outcome)


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample with these labels (and any others), 0 if there is none."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)


async def test_one_cycle_is_one_trace_and_metrics_count_every_message(
    runtime: Runtime, settings: Settings, topology: Report, tmp_path: Path
) -> None:
    fast = settings.model_copy(update={"scheduler_interval_seconds": 0.5, "send_batch_size": 2})
    with otlp_receiver() as receiver:
        env = service_environment(
            fast,
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
            OTEL_BSP_SCHEDULE_DELAY="200",
            OTEL_METRIC_EXPORT_INTERVAL="1000",
            DRIPR_SEND_DELAY_MS="0",
            DRIPR_SEND_COOLDOWN_SECONDS="0",
        )
        processes = {name: ServiceProcess(name, env, tmp_path / "logs") for name in PIPELINE}
        try:
            (campaign,) = await seed(
                runtime.sessions, count=1, recipients=3, kinds=lambda *_: "standard"
            )
            for process in processes.values():
                process.start()
            await eventually(lambda: _cycle_done(runtime, campaign.id), within=90)
            sender = processes["email_sender"]
            await eventually(lambda: _probe_answers(sender), within=20)
            before = scrape(sender)
            dead_trace = await _publish_doomed_batch(runtime)
            dlq = await _one_dead_letter(runtime, topology.dlq_urls[SENDER_QUEUE])
            after = scrape(sender)
            final = {name: scrape(process) for name, process in processes.items()}
        finally:
            for process in processes.values():
                process.stop(timeout=15)  # SIGTERM: each flushes its spans as it exits
        _print_logs_on_failure(processes)
        await eventually(lambda: _has_span(receiver, dead_trace), within=10)

        # /metrics moved by exactly the one message sent to the sender's queue.
        assert (
            messages(after, "email-sender", "dead_lettered")
            - messages(before, "email-sender", "dead_lettered")
            == 1
        )
        assert messages(after, "email-sender", "handled") == messages(
            before, "email-sender", "handled"
        )
        assert value(after, "dripr_emails_total", outcome="sent") == 3

        # AWS calls by operation: one SendRawEmail per email, one SendMessage for the DLQ copy.
        def calls(samples: Samples, service: str, operation: str) -> float:
            return value(samples, "dripr_aws_calls_total", service=service, operation=operation)

        assert calls(after, "ses", "SendRawEmail") == 3
        assert calls(after, "sqs", "SendMessage") - calls(before, "sqs", "SendMessage") == 1
        for consumer in STAGES[0] | STAGES[1] | STAGES[2]:  # one STATUS_CHANGE each
            assert messages(final[_service_of(consumer)], consumer, "handled") == 1, consumer
        assert "dripr.messages" in receiver.metric_names  # also pushed over OTLP

        # The dead letter keeps the trace id of the message it was.
        attributes = dlq["MessageAttributes"]
        assert dead_trace in attributes["traceparent"]["StringValue"]
        assert attributes["failure_reason"]["StringValue"].startswith("rejected: send")
        doomed = [s for s in receiver.trace(dead_trace) if s.kind == "CONSUMER"]
        assert [s.attributes["dripr.outcome"] for s in doomed] == ["dead_lettered"]

        _assert_one_trace_per_cycle(receiver, campaign.id)


def _assert_one_trace_per_cycle(receiver: OtlpReceiver, campaign_id: int) -> None:
    (root,) = [
        s
        for s in receiver.spans
        if s.name == "scheduler start_cycle"
        and s.attributes.get("dripr.campaign_id") == campaign_id
    ]
    spans = receiver.trace(root.trace_id)
    by_id = {s.span_id: s for s in spans}
    handlers = [s for s in spans if s.kind == "CONSUMER"]
    consumers = defaultdict(list)
    for span in handlers:
        consumers[span.name.removesuffix(" process")].append(span)

    # A span from every service that handled the cycle, stage after stage.
    services = {s.service for s in spans}
    expected = {f"dripr-{n}" for n in PIPELINE if n != "feedback"}
    assert expected <= services, f"missing {expected - services}"
    assert set().union(*STAGES) <= set(consumers)
    for earlier, later in itertools.pairwise(STAGES):
        last_start = max(consumers[c][0].start_ns for c in earlier)
        first_later = min(consumers[c][0].start_ns for c in later)
        assert last_start < first_later

    # Each handler continues, and links to, the publish that sent its message.
    for span in handlers:
        parent = by_id[span.parent_id]
        assert parent.kind in ("PRODUCER", "CLIENT"), parent
        assert any(link[1] == span.parent_id for link in span.links)
        assert _ancestor(by_id, parent, lambda p: p.name.startswith("publish "))

    # The fan-in: the last of the five data steps links the other four branches.
    fan_in = [
        span
        for name in STAGES[0]
        for span in consumers[name]
        if sum(1 for link in span.links if link[2].get("dripr.link") == "fan-in branch") == 4
    ]
    assert len(fan_in) == 1
    assert _ancestor(by_id, by_id[consumers["home-report"][0].parent_id], lambda p: p is fan_in[0])

    # The database, the AWS calls and the last email are inside the same trace.
    assert any(s.attributes.get("db.system") or s.attributes.get("db.system.name") for s in spans)
    assert any(s.attributes.get("rpc.method") == "Publish" for s in spans)
    ses = [s for s in spans if s.attributes.get("rpc.service") in ("SES", "SESV2")]
    assert len(ses) == 3 and all(
        _ancestor(by_id, s, lambda p: p.service == "dripr-email_sender") for s in ses
    )


def _ancestor(
    by_id: dict[str, ReceivedSpan], span: ReceivedSpan, match: Callable[[ReceivedSpan], bool]
) -> bool:
    seen: ReceivedSpan | None = span
    while seen is not None:
        if match(seen):
            return True
        seen = by_id.get(seen.parent_id)
    return False


def _service_of(consumer: str) -> str:
    return {
        "intro": "intro",
        "home-report": "home_report",
        "email-creation": "email_creation",
        "email-sender": "email_sender",
    }.get(consumer, "data_fetcher")


async def _cycle_done(runtime: Runtime, campaign_id: int) -> bool:
    async with runtime.sessions() as session:
        campaign = await session.get(Campaign, campaign_id, populate_existing=True)
        sent = list(
            await session.scalars(
                select(Delivery.id).where(
                    Delivery.campaign_id == campaign_id, Delivery.status == DeliveryStatus.SENT
                )
            )
        )
    return (
        campaign is not None
        and campaign.campaign_status is S.DORMANT
        and campaign.cycle == 1
        and len(sent) == 3
    )


async def _probe_answers(process: ServiceProcess) -> bool:
    try:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"{process.probe_url}/livez", timeout=2)).status_code == 200
    except httpx.HTTPError:
        return False


async def _publish_doomed_batch(runtime: Runtime) -> str:
    """A SEND_BATCH for a send that does not exist, published inside a trace of the test's."""
    trace_id = 0x0DD5EEDC0FFEE0000000000000000001
    parent = SpanContext(trace_id, 0x00000000000000AB, is_remote=True, trace_flags=TraceFlags(1))
    token = context.attach(trace.set_span_in_context(NonRecordingSpan(parent)))
    try:
        event = SendBatch(send_id=987_654, campaign_id=987_654, cycle=1, batch=0)
        await runtime.publisher.publish(event, queue=SENDER_QUEUE)
    finally:
        context.detach(token)
    return format(trace_id, "032x")


async def _one_dead_letter(runtime: Runtime, dlq_url: str) -> dict[str, object]:
    found: list[dict[str, object]] = []

    async def arrived() -> bool:
        response = await runtime.sqs.receive_message(
            QueueUrl=dlq_url, MessageAttributeNames=["All"], WaitTimeSeconds=1
        )
        found.extend(response.get("Messages", []))
        return bool(found)

    await eventually(arrived, within=30)
    return found[0]


async def _has_span(receiver: OtlpReceiver, trace_id: str) -> bool:
    return any(s.trace_id == trace_id and s.kind == "CONSUMER" for s in receiver.spans)


def _print_logs_on_failure(processes: dict[str, ServiceProcess]) -> None:
    for process in processes.values():
        if process.log_path.exists():
            lines = process.log_path.read_text().splitlines()
            errors = [line for line in lines if '"level": "error"' in line]
            print(f"--- {process.name}: {len(lines)} lines\n" + "\n".join(errors[-5:]))
