"""docs/reference/events.md and its JSON Schemas: generated from the models, every example
valid against its schema and dripr's parser, and each one published with the real AWS CLI
reaches exactly the queues the reference names."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from infra.provision import Report
from shared.adapters.topology import FEEDBACK_QUEUE
from shared.bootstrap import Runtime
from shared.consumer.envelope import parse_body
from shared.devtools import ses_feedback_reference as ses_reference
from shared.devtools.events_reference import (
    EXAMPLES,
    REFERENCE,
    SLUGS,
    receivers,
    render,
    schema,
    schema_text,
    ses_feedback_schema_text,
)
from shared.devtools.ses_feedback import sns_envelope
from shared.domain.events import Event, MalformedMessage, StatusChange, parse_event
from shared.domain.feedback import (
    FeedbackKind,
    IgnoredNotification,
    SesFeedback,
    parse_ses_notification,
)
from tests.support import receive_all


def test_the_committed_reference_is_the_generated_one() -> None:
    stale = "stale; run: python -m shared.devtools.events_reference"
    assert (REFERENCE / "events.md").read_text() == render(), stale
    for model, slug in SLUGS.items():
        assert (REFERENCE / "schemas" / f"{slug}.json").read_text() == schema_text(model), stale
    assert (REFERENCE / "schemas" / "ses-feedback.json").read_text() == (
        ses_feedback_schema_text()
    ), stale


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


FEEDBACK_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:dev-dripr-ses-feedback"
SES_CHECKER = jsonschema.Draft202012Validator(ses_reference.SCHEMA)


@pytest.mark.parametrize("title", list(ses_reference.EXAMPLES))
def test_each_ses_feedback_example_is_valid_by_its_schema_and_to_dripr(title: str) -> None:
    example = ses_reference.EXAMPLES[title]
    SES_CHECKER.validate(example)
    kind = example.get("eventType", example.get("notificationType"))
    assert parse_ses_notification(example).kind is FeedbackKind(kind.upper())


def _without(document: dict[str, Any], path: str) -> dict[str, Any]:
    copied = copy.deepcopy(document)
    *parents, last = path.split(".")
    inner = copied
    for key in parents:
        inner = inner[key]
    del inner[last]
    return copied


BOUNCE = ses_reference.EXAMPLES["a hard bounce (event publishing)"]
COMPLAINT = ses_reference.EXAMPLES["a complaint (event publishing)"]
DELIVERY = ses_reference.EXAMPLES["a delivery (identity notification)"]


@pytest.mark.parametrize(
    "document",
    [
        _without(BOUNCE, "mail.messageId"),
        _without(BOUNCE, "eventType"),
        _without(BOUNCE, "bounce.bouncedRecipients"),
        {**BOUNCE, "bounce": {**BOUNCE["bounce"], "bounceType": "Soft"}},
        {**BOUNCE, "eventType": "Bogus"},
        {**BOUNCE, "mail": "not an object"},
        _without(COMPLAINT, "complaint"),
        {**COMPLAINT, "complaint": {"complainedRecipients": []}},
        _without(_without(DELIVERY, "delivery.recipients"), "mail.destination"),
        {"eventType": "Send", "mail": {"messageId": "m"}},
    ],
    ids=lambda d: json.dumps(d)[:60],
)
def test_what_the_ses_feedback_schema_refuses_the_parser_refuses(document: dict[str, Any]) -> None:
    """As the consumer runtime reads it (in SNS's envelope): refused with a reason, so the
    message is dead-lettered, never an exception of another kind."""
    assert list(SES_CHECKER.iter_errors(document)), "the schema should refuse it"
    with pytest.raises(MalformedMessage):
        parse_body(sns_envelope(document, FEEDBACK_TOPIC_ARN))


@pytest.mark.parametrize("event_type", ses_reference.IGNORED)
def test_the_ignored_ses_event_types_pass_the_schema_and_are_ignored(event_type: str) -> None:
    document = {"eventType": event_type, "mail": {"messageId": ses_reference.MESSAGE_ID}}
    SES_CHECKER.validate(document)
    with pytest.raises(IgnoredNotification):
        parse_ses_notification(document)


def _aws_cli_env(runtime: Runtime) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "AWS_DEFAULT_REGION": runtime.settings.region or "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }


async def test_each_ses_feedback_example_published_with_the_aws_cli_reaches_the_feedback_queue(
    runtime: Runtime, topology: Report, tmp_path: Path
) -> None:
    """As docs/reference/events.md says to inject one: the message of the feedback topic,
    arriving in SNS's envelope on the feedback queue and read by dripr's parser."""
    endpoint = ["--endpoint-url", runtime.settings.aws_endpoint_url or ""]
    feedback_url = topology.queue_urls[FEEDBACK_QUEUE]
    await receive_all(runtime.sqs, feedback_url)
    for index, example in enumerate(ses_reference.EXAMPLES.values()):
        body = tmp_path / f"ses-{index}.json"
        body.write_text(json.dumps(example))
        command = [
            *("aws", *endpoint, "sns", "publish"),
            *("--topic-arn", topology.feedback_topic_arn),
            *("--message", f"file://{body}"),
        ]
        done = await asyncio.to_thread(
            subprocess.run,
            command,
            env=_aws_cli_env(runtime),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        received = await receive_all(runtime.sqs, feedback_url)
        assert len(received) == 1
        envelope = json.loads(received[0]["Body"])
        assert envelope["Type"] == "Notification" and json.loads(envelope["Message"]) == example
        parsed = parse_body(received[0]["Body"])
        assert isinstance(parsed, SesFeedback)
        assert parsed.ses_message_id == ses_reference.MESSAGE_ID


async def test_each_example_published_with_the_aws_cli_reaches_its_queues(
    runtime: Runtime, topology: Report, tmp_path: Path
) -> None:
    env = _aws_cli_env(runtime)
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
