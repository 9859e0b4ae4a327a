"""docker-compose.localstack.yml, checked structurally (no `docker compose` on this machine)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from shared.runner import SERVICES

COMPOSE = Path(__file__).parents[2] / "docker-compose.localstack.yml"


def test_every_service_runs_after_migrate_and_provision() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]

    assert set(SERVICES) | {"localstack", "mysql", "setup"} == set(services)
    setup = services["setup"]
    assert "dripr migrate && dripr provision" in " ".join(setup["entrypoint"])
    assert setup["depends_on"] == {
        "localstack": {"condition": "service_healthy"},
        "mysql": {"condition": "service_healthy"},
    }
    for name in SERVICES:
        service = services[name]
        assert service["command"] == [name]
        assert service["depends_on"] == {"setup": {"condition": "service_completed_successfully"}}
        assert int(service["stop_grace_period"].rstrip("s")) >= 30  # drain 20 s + margin
        assert service["environment"]["AWS_ENDPOINT_URL"] == "http://localstack:4566"
    assert services["localstack"]["environment"]["SERVICES"] == "sns,sqs,ses"
    assert "healthcheck" in services["localstack"] and "healthcheck" in services["mysql"]


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="no docker compose client here",
)
def test_docker_compose_validates_it() -> None:
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
