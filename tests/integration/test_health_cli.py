"""`dripr health`, the containers' health check, and the image's pinned dependencies."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from infra.provision import Report
from shared.config import Settings
from shared.devtools.demo.processes import service_environment

ROOT = Path(__file__).parents[2]


async def _health(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "shared.entrypoints.cli", "health"]
    return await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=60
    )


async def test_health_is_zero_when_database_and_aws_answer(
    settings: Settings, topology: Report
) -> None:
    healthy = await _health(service_environment(settings))
    broken = await _health(
        service_environment(settings, DATABASE_URL="mysql+asyncmy://nobody@127.0.0.1:1/none")
    )

    assert (healthy.returncode, healthy.stdout.strip()) == (0, "healthy")
    assert broken.returncode == 1 and broken.stdout.startswith("unhealthy: ")


def test_the_image_lock_pins_every_runtime_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = {
        re.split(r"==", line)[0].lower().replace("_", "-")
        for line in (ROOT / "infra" / "requirements.lock").read_text().splitlines()
        if "==" in line
    }
    for requirement in project["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement)
        assert name is not None
        assert name.group(0).lower().replace("_", "-") in pinned, requirement
    assert os.access(ROOT / "infra" / "localstack" / "run-on-host.sh", os.X_OK)
