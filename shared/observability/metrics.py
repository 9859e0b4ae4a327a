"""Every metric dripr records, the same names in every service (docs/operations.md#metrics).

The instruments are OpenTelemetry's: created here on the global meter, they record nothing
until `configure_metrics()` sets a provider for the process (a service's `main`), and then they
are read two ways at once: scraped by Prometheus from the probe endpoint's `/metrics`, and, when
an OTLP endpoint is configured (the standard `OTEL_EXPORTER_OTLP_*` variables), pushed to a
collector such as ADOT, which writes CloudWatch metrics (Embedded Metric Format) on ECS.
OpenTelemetry's names become Prometheus's by its rules: `dripr.messages` is scraped as
`dripr_messages_total`, `dripr.handler.duration` (seconds) as `dripr_handler_duration_seconds`.
"""

from __future__ import annotations

import os

from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
"""Buckets for durations: a hand-off is milliseconds, an LLM call or a batch tens of seconds."""

_meter = metrics.get_meter("dripr")

messages = _meter.create_counter(
    "dripr.messages",
    description="Messages a consumer finished with, by outcome: handled, duplicate, retried, "
    "failed (retried after a backoff), dead_lettered, ignored.",
)
handler_duration = _meter.create_histogram(
    "dripr.handler.duration",
    unit="s",
    description="Time from a message's receipt to its outcome, by consumer and outcome.",
    explicit_bucket_boundaries_advisory=SECONDS,
)
handoff_latency = _meter.create_histogram(
    "dripr.handoff.latency",
    unit="s",
    description="Time from the event's outbox row being written to its handler starting.",
    explicit_bucket_boundaries_advisory=SECONDS,
)
emails = _meter.create_counter(
    "dripr.emails",
    description="Emails by outcome: sent, failed, skipped (sender); bounced, complained "
    "(SES's feedback).",
)
aws_calls = _meter.create_counter(
    "dripr.aws.calls",
    description="Calls made to AWS, by service and operation (ReceiveMessage, Publish, ...): "
    "what a deployment pays SQS, SNS and SES for.",
)
breaker_transitions = _meter.create_counter(
    "dripr.breaker.transitions",
    description="Circuit breakers changing state, by dependency and the state entered.",
)
outbox_waiting = _meter.create_gauge(
    "dripr.outbox.waiting",
    description="Committed events not yet published, as the last outbox sweep counted them.",
)
outbox_oldest_age = _meter.create_gauge(
    "dripr.outbox.oldest_age",
    unit="s",
    description="Age of the oldest unpublished outbox row at the last sweep (0: none).",
)
queue_messages = _meter.create_gauge(
    "dripr.queue.messages",
    description="Messages in each queue by state (visible, in_flight, delayed, dead_letters), "
    "as the control API last read them.",
)
queue_oldest_age = _meter.create_gauge(
    "dripr.queue.oldest_age",
    unit="s",
    description="Age of the oldest event still waiting for each pipeline queue's consumer, "
    "as the control API last read it from the database (0: none).",
)


def configure_metrics(
    service: str, *, prometheus: bool = True, environ: dict[str, str] | None = None
) -> MeterProvider:
    """Give the process a meter provider: Prometheus's registry, and OTLP when configured."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader

    scraped = PrometheusMetricReader(scope_info_enabled=False)  # one scope: no label for it
    readers: list[MetricReader] = [scraped] if prometheus else []
    if otlp_configured("METRICS", environ):
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    provider = MeterProvider(metric_readers=readers, resource=resource(service))
    metrics.set_meter_provider(provider)
    return provider


def resource(service: str) -> Resource:
    """The process as OpenTelemetry names it; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
    still win."""
    return Resource.create({"service.name": f"dripr-{service}", "service.namespace": "dripr"})


def otlp_configured(signal: str, environ: dict[str, str] | None = None) -> bool:
    """Whether the standard variables ask for OTLP export of `signal` (TRACES or METRICS)."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    if env.get(f"OTEL_{signal}_EXPORTER", "otlp").lower() in ("none", ""):
        return False
    return bool(
        env.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )
