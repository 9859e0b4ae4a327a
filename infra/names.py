"""How the template names things: logical ids from service and queue names, and substitutions."""

from __future__ import annotations

from typing import Any


def logical(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))


def sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def queue_name(queue: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [f"{logical(queue)}Queue", "QueueName"]}


ECS_TASKS_MAY_ASSUME: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
"""The trust policy of every role the tasks run with (task roles and the execution role)."""
