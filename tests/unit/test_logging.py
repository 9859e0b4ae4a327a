"""Logs: JSON lines in containers, readable in a terminal, and no secret in either."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import structlog
    from shared.logging import configure_logging
    configure_logging("{fmt}", "INFO")
    log = structlog.get_logger("probe").bind(service="intro", campaign_id=7, event_id="e-1")
    log.info("message.handled", ms=3.2)
    log.info("config", api_token="tok-123456789", database="mysql+asyncmy://app:hunter2@db/dripr")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("message.failed")
    """
)


def _run(fmt: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(fmt=fmt)], capture_output=True, text=True, check=True
    )
    return result.stderr


def test_json_lines_carry_the_bound_context_and_hide_secrets() -> None:
    lines = [json.loads(line) for line in _run("json").splitlines()]

    handled, config, failed = lines
    assert handled | {"timestamp": None} == {
        "event": "message.handled",
        "ms": 3.2,
        "service": "intro",
        "campaign_id": 7,
        "event_id": "e-1",
        "level": "info",
        "timestamp": None,
    }
    assert config["api_token"] == "***"
    assert config["database"] == "mysql+asyncmy://app:***@db/dripr"
    assert "ValueError: boom" in failed["exception"]


def test_the_terminal_format_is_readable_and_hides_secrets_too() -> None:
    output = re.sub(r"\x1b\[[0-9;]*m", "", _run("console"))  # colours off, text stays

    assert "message.handled" in output and "campaign_id=7" in output
    assert "hunter2" not in output and "tok-123456789" not in output


STDLIB_PROBE = textwrap.dedent(
    """
    import logging, structlog
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from shared.logging import configure_logging
    configure_logging("json", "INFO")
    structlog.contextvars.bind_contextvars(service="email_sender")
    logging.getLogger("uvicorn.error").warning("port %s taken", 9464)
    logging.getLogger("botocore.info").info("below the stdlib level: dropped")
    trace.set_tracer_provider(TracerProvider())
    with trace.get_tracer("probe").start_as_current_span("handler") as span:
        structlog.get_logger().info("message.handled")
        logging.getLogger("sqlalchemy.pool").error("connection lost")
        ids = span.get_span_context()
        print(format(ids.trace_id, "032x"), format(ids.span_id, "016x"))
    """
)


def test_stdlib_loggers_write_the_same_json_and_every_line_in_a_span_names_its_trace() -> None:
    result = subprocess.run(
        [sys.executable, "-c", STDLIB_PROBE], capture_output=True, text=True, check=True
    )
    trace_id, span_id = result.stdout.split()
    uvicorn, handled, pool = (json.loads(line) for line in result.stderr.splitlines())

    assert uvicorn | {"timestamp": None} == {
        "event": "port 9464 taken",
        "logger": "uvicorn.error",
        "level": "warning",
        "service": "email_sender",
        "timestamp": None,
    }
    assert "trace_id" not in uvicorn  # written outside any span
    for line in (handled, pool):
        assert (line["trace_id"], line["span_id"]) == (trace_id, span_id)
    assert pool["logger"] == "sqlalchemy.pool" and pool["level"] == "error"
