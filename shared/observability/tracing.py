"""OpenTelemetry tracing, on only when an OTLP endpoint is configured.

With `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) set, a service exports its spans
over OTLP/HTTP in batches, and every AWS call (aiobotocore), SQL statement (SQLAlchemy) and
provider call (through its circuit breaker) becomes a span of whatever handler made it.
Without one, nothing is instrumented and OpenTelemetry's API stays the no-op it is by default:
a span costs a function call, and no trace context is written to any message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import context, trace
from opentelemetry.trace import Link, Span, SpanKind

from shared.observability.metrics import otlp_configured, resource

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

tracer = trace.get_tracer("dripr")

_provider: list[TracerProvider] = []
"""The process's SDK provider once `configure_tracing` set one up."""


def tracing_enabled() -> bool:
    return bool(_provider)


def configure_tracing(service: str, environ: dict[str, str] | None = None) -> bool:
    """Export this process's spans over OTLP if the standard variables ask for it."""
    if _provider or not otlp_configured("TRACES", environ):
        return tracing_enabled()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.botocore import AiobotocoreInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=resource(service))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _provider.append(provider)
    AiobotocoreInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    return True


def trace_engine(engine: Any) -> None:
    """Each SQL statement on this engine a span (when tracing is on)."""
    if not _provider:
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # Its declared range stops short of SQLAlchemy 2.1, whose engine events it uses unchanged.
    SQLAlchemyInstrumentor().instrument(
        engine=engine.sync_engine, tracer_provider=_provider[0], skip_dep_check=True
    )


def shutdown_tracing() -> None:
    """Export what is buffered before the process exits (a SIGTERM must not lose the spans)."""
    while _provider:
        _provider.pop().shutdown()


@contextmanager
def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: context.Context | None = None,
    links: list[Link] | None = None,
    attributes: dict[str, Any] | None = None,
) -> Iterator[Span]:
    """A span made current for the block; its parent the given context, else the current one."""
    with tracer.start_as_current_span(
        name, context=parent, kind=kind, links=links, attributes=attributes
    ) as current:
        yield current
