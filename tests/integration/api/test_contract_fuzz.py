"""Schemathesis against the live control API (its own process, MySQL and the emulator): every
operation, generated requests, every response checked against the OpenAPI. Bounded here (a few
examples per operation); `make fuzz` runs it longer."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.provision import Report
from shared.config import Settings
from shared.devtools.demo.processes import ServiceProcess, service_environment
from shared.devtools.emulator import free_port
from tests.integration.api.conftest import TOKEN

EXAMPLES = int(os.environ.get("DRIPR_CONTRACT_EXAMPLES", "4"))


@pytest.fixture
def live_api(settings: Settings, topology: Report, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = service_environment(settings, DRIPR_API_TOKEN=TOKEN, DRIPR_API_PORT=str(port))
    api = ServiceProcess("control_api", env, tmp_path)
    api.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline or not api.running:
                raise
            time.sleep(0.2)
    try:
        yield url
    finally:
        api.stop()
        print(api.log_path.read_text()[-3000:])


def test_every_operation_keeps_its_contract(live_api: str) -> None:
    """Schemathesis's own runner (its CLI), as a user would run it: every check, a fixed seed."""
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "st"),
            "run",
            f"{live_api}/openapi.json",
            "--header",
            f"Authorization: Bearer {TOKEN}",
            "--checks",
            "all",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            "1",
            "--generation-deterministic",
            "--continue-on-failure",
            # One worker: CPython 3.11 keeps the AST builder's recursion counter per interpreter,
            # so two threads parsing at once (Hypothesis reads its strategies' lambda sources)
            # fail with "AST constructor recursion depth mismatch" (python/cpython#106905).
            "--workers",
            "1",
            "--include-path-regex",
            "^/api/v1/",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    print(done.stdout)
    assert done.returncode == 0, done.stdout[-6000:]
