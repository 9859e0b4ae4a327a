"""structlog set up once per process: JSON lines in containers, colours in a terminal.

Every line is one format: the standard library's loggers (uvicorn's, botocore's, SQLAlchemy's)
go through the same processors as structlog's own, and a line written inside a span carries
its `trace_id` and `span_id`, so logs and traces join.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from opentelemetry import trace

SECRET_KEYS = re.compile(r"token|secret|password|authorization|api_key|credential", re.I)
URL_PASSWORD = re.compile(r"(?P<scheme>[a-z0-9+]+://[^:/@\s]+:)[^@\s]+@", re.I)


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """No secret reaches a log: fields named like one are masked, and so are URL passwords."""
    for key, value in list(event.items()):
        if SECRET_KEYS.search(key):
            event[key] = "***"
        elif isinstance(value, str) and "@" in value:
            event[key] = URL_PASSWORD.sub(r"\g<scheme>***@", value)
    return event


def add_trace_ids(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The current span's ids, when a trace is being recorded."""
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        event["trace_id"] = format(span_context.trace_id, "032x")
        event["span_id"] = format(span_context.span_id, "016x")
    return event


def configure_logging(fmt: str = "auto", level: str = "INFO") -> None:
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_ids,
        redact,
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info if use_json else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info if use_json else structlog.dev.set_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
