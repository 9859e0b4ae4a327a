"""The production template: generated from the topology, committed, valid, least privilege."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from infra.cloudformation import render, template
from shared.adapters.topology import TOPOLOGY

COMMITTED = Path(__file__).parents[2] / "infra" / "cloudformation.json"


def test_the_committed_template_is_the_generated_one() -> None:
    assert COMMITTED.read_text() == render(), (
        "run: python -m infra.cloudformation > infra/cloudformation.json"
    )


def test_cfn_lint_accepts_it() -> None:
    lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(lint), str(COMMITTED)], capture_output=True, text=True)

    assert result.returncode == 0, result.stdout + result.stderr


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = role["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    return statements


def test_each_service_role_reaches_only_its_own_queues() -> None:
    resources = template()["Resources"]
    for service in {spec.service for spec in TOPOLOGY.queues}:
        role = resources["".join(p.capitalize() for p in service.split("_")) + "Role"]
        touched = {
            json.dumps(resource)
            for statement in _statements(role)
            if any(action.startswith("sqs:") for action in statement["Action"])
            for resource in statement["Resource"]
        }
        own = {spec.name for spec in TOPOLOGY.queues_of(service)}
        for spec in TOPOLOGY.queues:
            mentions = any(
                f'"{"".join(p.capitalize() for p in spec.name.split("-"))}' in t for t in touched
            )
            assert mentions == (spec.name in own), (service, spec.name)
        publishes = [s for s in _statements(role) if s["Action"] == ["sns:Publish"]]
        assert publishes and publishes[0]["Resource"] == {"Ref": "StatusChangeTopic"}


def test_every_queue_has_its_filter_dlq_and_alarms() -> None:
    resources = template()["Resources"]
    for spec in TOPOLOGY.queues:
        name = "".join(p.capitalize() for p in spec.name.split("-"))
        subscription = resources[f"{name}QueueSubscription"]["Properties"]
        assert subscription["RawMessageDelivery"] is True
        assert subscription["FilterPolicy"]["to_status"] == [s.value for s in spec.to_statuses]
        redrive = resources[f"{name}Queue"]["Properties"]["RedrivePolicy"]
        assert redrive["maxReceiveCount"] == spec.max_receive_count
        assert f"{name}DeadLetterQueueDepthAlarm" in resources
        assert f"{name}QueueAgeAlarm" in resources
