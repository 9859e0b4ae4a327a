"""A service says when it actually takes work: `service.ready` after its consumers' loops
went round, and the control API with the address it accepts connections on."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from infra.provision import Report
from shared.config import Settings
from shared.devtools.demo.processes import ServiceProcess, service_environment
from shared.devtools.emulator import free_port


def _lines_until(process: ServiceProcess, event: str, within: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        lines = [
            json.loads(line)
            for line in process.log_path.read_text().splitlines()
            if line.startswith("{")
        ]
        if any(line["event"] == event for line in lines):
            return lines
        assert process.running, process.log_path.read_text()[-2000:]
        time.sleep(0.1)
    raise AssertionError(f"no {event} within {within}s:\n{process.log_path.read_text()[-2000:]}")


def test_a_consumer_service_is_ready_once_its_loops_go_round(
    settings: Settings, topology: Report, tmp_path: Path
) -> None:
    service = ServiceProcess("intro", service_environment(settings, DRIPR_PROBE_PORT="0"), tmp_path)
    service.start()
    try:
        events = [line["event"] for line in _lines_until(service, "service.ready")]
    finally:
        service.stop()
    assert events.index("service.started") < events.index("consumer.started")
    assert events.index("consumer.started") < events.index("service.ready")


def test_the_control_api_is_ready_with_the_address_it_answers_on(
    settings: Settings, topology: Report, tmp_path: Path
) -> None:
    port = free_port()
    env = service_environment(
        settings, DRIPR_PROBE_PORT="0", DRIPR_API_PORT=str(port), DRIPR_API_TOKEN="t" * 40
    )
    api = ServiceProcess("control_api", env, tmp_path)
    api.start()
    try:
        (ready,) = [
            line for line in _lines_until(api, "service.ready") if line["event"] == "service.ready"
        ]
        with urllib.request.urlopen(f"{ready['url']}/health", timeout=5) as response:
            assert response.status == 200  # at once: ready means it answers
    finally:
        api.stop()
    assert ready["url"] == f"http://127.0.0.1:{port}"


def test_logs_reach_a_file_line_by_line_without_pythonunbuffered(
    settings: Settings, topology: Report, tmp_path: Path
) -> None:
    """As "Running it yourself" starts a service, output redirected to a file: each line is
    there as it happens (logs go to stderr, which Python writes line by line)."""
    env = service_environment(settings, DRIPR_PROBE_PORT="0")
    env.pop("PYTHONUNBUFFERED", None)
    log = tmp_path / "scheduler.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "shared.entrypoints.cli", "run", "scheduler"],
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 60
        while "service.ready" not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=30)
