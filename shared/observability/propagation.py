"""A trace carried across the bus: W3C trace context in message attributes and outbox rows.

Every message dripr sends (a STATUS_CHANGE through SNS, a SEND_BATCH straight to SQS, a DLQ copy)
carries `traceparent` (and `tracestate` when there is one) as string message attributes, so the
handler that receives it continues the trace of the transaction that emitted it. The outbox row
keeps the same `traceparent`, so an event the sweep publishes minutes later still continues its
own trace rather than the sweep's. With tracing off there is no valid context, and nothing is
written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import context, trace
from opentelemetry.trace import Link
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACE_ATTRIBUTES = ("traceparent", "tracestate")
"""The message attributes that carry a trace; a DLQ copy keeps them before any other."""
MAX_ATTRIBUTES = 10
"""SQS refuses a message with more message attributes than this."""

_w3c = TraceContextTextMapPropagator()


def inject(attributes: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """Add the current trace context to SQS/SNS message attributes, if it fits."""
    carrier: dict[str, str] = {}
    _w3c.inject(carrier)
    if carrier and len(attributes) + len(carrier) <= MAX_ATTRIBUTES:
        for key, value in carrier.items():
            attributes[key] = {"DataType": "String", "StringValue": value}
    return attributes


def extract(message_attributes: Mapping[str, Any] | None) -> context.Context | None:
    """The trace context a received message carries, or None."""
    if not message_attributes or "traceparent" not in message_attributes:
        return None
    carrier = {
        key: str(message_attributes[key].get("StringValue", ""))
        for key in TRACE_ATTRIBUTES
        if key in message_attributes
    }
    return _context_of(carrier)


def current_traceparent() -> str | None:
    """The current span as a `traceparent` string (for an outbox row), or None."""
    carrier: dict[str, str] = {}
    _w3c.inject(carrier)
    return carrier.get("traceparent")


def context_of(traceparent: str | None) -> context.Context | None:
    """A stored `traceparent` back into a context to continue, or None."""
    return _context_of({"traceparent": traceparent}) if traceparent else None


def link_to(traceparent: str | None) -> Link | None:
    """A span link to the span a stored `traceparent` names (a fan-in's other branches)."""
    parent = context_of(traceparent)
    if parent is None:
        return None
    span_context = trace.get_current_span(parent).get_span_context()
    return Link(span_context) if span_context.is_valid else None


def _context_of(carrier: dict[str, str]) -> context.Context | None:
    extracted = _w3c.extract(carrier)
    valid = trace.get_current_span(extracted).get_span_context().is_valid
    return extracted if valid else None
