"""docs/reference/events.md and its JSON Schemas: generated from the models, every example
valid against its schema and dripr's parser, and each one published with the real AWS CLI
reaches exactly the queues the reference names."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from infra.provision import Report
from shared.bootstrap import Runtime
from shared.devtools.events_reference import (
    EXAMPLES,
    REFERENCE,
    SLUGS,
    receivers,
    render,
    schema,
    schema_text,
)
from shared.domain.events import Event, StatusChange, parse_event
from tests.support import receive_all


def test_the_committed_reference_is_the_generated_one() -> None:
    stale = "stale; run: python -m shared.devtools.events_reference"
    assert (REFERENCE / "events.md").read_text() == render(), stale
    for model, slug in SLUGS.items():
        assert (REFERENCE / "schemas" / f"{slug}.json").read_text() == schema_text(model), stale


@pytest.mark.parametrize("model", list(EXAMPLES), ids=lambda m: m.event_type_name())
def test_each_example_is_valid_by_its_schema_and_to_dripr(model: type[Event]) -> None:
    example = EXAMPLES[model]
    checker = jsonschema.Draft202012Validator(
        schema(model), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    checker.validate(example)
    assert isinstance(parse_event(example), model)
    for missing in ("event_id", "to_status" if model is StatusChange else "send_id"):
        incomplete = {k: v for k, v in example.items() if k != missing}
        assert list(checker.iter_errors(incomplete)), f"{missing} should be required"
    assert list(checker.iter_errors({**example, "colour": "blue"}))  # unknown fields refused


async def test_each_example_published_with_the_aws_cli_reaches_its_queues(
    runtime: Runtime, topology: Report, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "AWS_DEFAULT_REGION": runtime.settings.region or "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    endpoint = ["--endpoint-url", runtime.settings.aws_endpoint_url or ""]
    for url in topology.queue_urls.values():
        await receive_all(runtime.sqs, url)
    for model, example in EXAMPLES.items():
        body = tmp_path / f"{SLUGS[model]}.json"
        body.write_text(json.dumps(example))
        if model is StatusChange:
            attributes = {
                "event_type": {"DataType": "String", "StringValue": example["event_type"]},
                "to_status": {"DataType": "String", "StringValue": example["to_status"]},
            }
            command = [
                *("aws", *endpoint, "sns", "publish"),
                *("--topic-arn", runtime.publisher.topic_arn),  # type: ignore[attr-defined]
                *("--message", f"file://{body}"),
                *("--message-attributes", json.dumps(attributes)),
            ]
        else:
            command = [
                *("aws", *endpoint, "sqs", "send-message"),
                *("--queue-url", topology.queue_urls["email-sender"]),
                *("--message-body", f"file://{body}"),
            ]
        done = await asyncio.to_thread(
            subprocess.run, command, env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        reached = []
        for name, url in topology.queue_urls.items():
            bodies = [m["Body"] for m in await receive_all(runtime.sqs, url)]
            if any(json.loads(b).get("event_id") == example["event_id"] for b in bodies):
                reached.append(name)
        assert sorted(reached) == receivers(model, example), model.event_type_name()
