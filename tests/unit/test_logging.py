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
