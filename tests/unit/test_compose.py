"""docker-compose.localstack.yml, checked structurally (no `docker compose` on this machine)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from shared.entrypoints.runner import SERVICES

COMPOSE = Path(__file__).parents[2] / "docker-compose.localstack.yml"


def test_every_service_runs_after_migrate_and_provision() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]

    assert set(SERVICES) | {"localstack", "mysql", "setup"} == set(services)
    setup = services["setup"]
    assert "dripr migrate && dripr provision" in " ".join(setup["entrypoint"])
    assert setup["healthcheck"] == {"disable": True}
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
        assert service["healthcheck"]["test"] == ["CMD", "dripr", "probe", "livez"]
    assert services["localstack"]["environment"]["SERVICES"] == "sns,sqs,ses"
    assert "healthcheck" in services["localstack"] and "healthcheck" in services["mysql"]


def _compose_client() -> list[str] | None:
    """`docker compose` (v2 plugin) or Debian's `docker-compose`; neither needs an engine."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


@pytest.mark.skipif(_compose_client() is None, reason="no compose client on this machine")
def test_docker_compose_validates_it(tmp_path: Path) -> None:
    client = _compose_client()
    assert client is not None
    valid = subprocess.run(
        [*client, "-f", str(COMPOSE), "config", "--quiet"], capture_output=True, text=True
    )
    broken = tmp_path / "broken.yml"
    broken.write_text(COMPOSE.read_text().replace("service_completed_successfully", "whenever"))
    invalid = subprocess.run(
        [*client, "-f", str(broken), "config", "--quiet"], capture_output=True, text=True
    )

    assert valid.returncode == 0, valid.stderr
    assert invalid.returncode != 0  # the check is real: a wrong condition is refused
