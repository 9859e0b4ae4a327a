"""The event formats as JSON Schema, generated from the models, with an example of each.

`python -m shared.devtools.events_reference` writes docs/reference/events.md and
docs/reference/schemas/*.json; tests/integration/test_events_reference.py fails when they are
stale, validates each example against its schema and dripr's parser, and publishes each with
the real AWS CLI to check it reaches the queues the reference says.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.adapters.topology import TOPOLOGY
from shared.devtools import ses_feedback_reference as ses_reference
from shared.domain.events import EVENT_TYPES, Event, SendBatch, StatusChange
from shared.domain.sends import SENDER_QUEUE
from shared.domain.statuses import CampaignStatus

REFERENCE = Path(__file__).parents[2] / "docs" / "reference"
SLUGS: dict[type[Event], str] = {StatusChange: "status-change", SendBatch: "send-batch"}

EXAMPLES: dict[type[Event], dict[str, Any]] = {
    StatusChange: {
        "event_type": "STATUS_CHANGE",
        "version": 1,
        "event_id": "0b6f3c7e-2d4a-4f5e-9a1b-6c8d7e9f0a1b",
        "occurred_at": "2026-12-02T09:30:00Z",
        "campaign_id": 42,
        "cycle": 3,
        "from_status": "DORMANT",
        "to_status": "WAITING_FOR_DATA",
    },
    SendBatch: {
        "event_type": "SEND_BATCH",
        "version": 1,
        "event_id": "5f1e2d3c-4b5a-4978-8a6b-1c2d3e4f5a6b",
        "occurred_at": "2026-12-02T09:31:00Z",
        "send_id": 7,
        "campaign_id": 42,
        "cycle": 3,
        "batch": 0,
    },
}
"""A valid event of each type, as a person injecting one by hand would write it."""

ALWAYS = ("event_type", "version", "event_id", "occurred_at")
"""Fields dripr always writes, so an injected event must too: without an `event_id` each
delivery of the same message would look like a new event."""


def schema(model: type[Event]) -> dict[str, Any]:
    built = model.model_json_schema()
    built["required"] = [*ALWAYS, *(f for f in built.get("required", []) if f not in ALWAYS)]
    built["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    built["$id"] = f"https://dripr.example/schemas/{SLUGS[model]}.json"
    built["examples"] = [EXAMPLES[model]]
    return built


def schema_text(model: type[Event]) -> str:
    return json.dumps(schema(model), indent=2) + "\n"


def receivers(model: type[Event], example: dict[str, Any]) -> list[str]:
    """The queues an example reaches: by to_status through the topic, or the sender's."""
    if model is StatusChange:
        return sorted(TOPOLOGY.receivers_of(CampaignStatus(example["to_status"])))
    return [SENDER_QUEUE]


def _field_rows(model: type[Event]) -> list[str]:
    built = schema(model)
    rows = []
    for name, spec in built["properties"].items():
        kind = spec.get("type") or ("a status (above)" if "$ref" in spec else "")
        if "anyOf" in spec:
            kind = " or ".join(str(o.get("type")) for o in spec["anyOf"])
        if "const" in spec:
            kind = f"`{json.dumps(spec['const'])}`"
        elif spec.get("format"):
            kind = f"{kind} ({spec['format']})"
        required = "yes" if name in built["required"] else "no"
        rows.append(f"| `{name}` | {kind} | {required} | {spec.get('description', '')} |")
    return rows


def render() -> str:
    statuses = ", ".join(f"`{s.value}`" for s in CampaignStatus)
    parts = [
        "# Event formats",
        "",
        "The messages dripr's services exchange, as they appear in an SQS message body (raw",
        "delivery: the body is the event itself). Generated from `shared/domain/events.py` by",
        "`python -m shared.devtools.events_reference`; the tests validate every example against",
        "its schema and publish it with the AWS CLI. Timestamps carry their zone; unknown fields",
        "are refused (the message goes to the DLQ with the reason).",
        "",
        f"Statuses: {statuses}.",
    ]
    for model in EVENT_TYPES.values():
        slug = SLUGS[model]
        example = EXAMPLES[model]
        parts += [
            "",
            f"## {model.event_type_name()}",
            "",
            (model.__doc__ or "").strip().replace("\n    ", " "),
            "",
            f"JSON Schema: [schemas/{slug}.json](schemas/{slug}.json)",
            "",
            "| field | type | required | meaning |",
            "| --- | --- | --- | --- |",
            *_field_rows(model),
            "",
            "Example:",
            "",
            "```json",
            json.dumps(example, indent=2),
            "```",
            "",
        ]
        if model is StatusChange:
            parts += [
                "Published to the `<env>-dripr-status-change` topic with the message attributes",
                "`event_type` and `to_status` (the queues' filter policies match `to_status`);",
                "this example reaches "
                + ", ".join(f"`{q}`" for q in receivers(model, example))
                + ". Sent to one queue with `aws sqs send-message` instead, only that",
                "consumer sees it. For a campaign that does not exist it is dead-lettered with",
                '"campaign N does not exist"; for another cycle, or a step already done, it is',
                "a harmless no-op. ([operations.md](../operations.md#inject-a-status_change-"
                "through-the-topic) has the commands.)",
            ]
        else:
            parts += [
                f"Sent straight to the `<env>-dripr-{SENDER_QUEUE}` queue (never the topic).",
                "For a send that does not exist it is dead-lettered with",
                '"send N does not exist"; a batch number already done is dropped.',
            ]
    return "\n".join(parts + _ses_feedback_section()) + "\n"


def _ses_feedback_section() -> list[str]:
    parts = [
        "",
        "## SES feedback",
        "",
        "What SES reports about the mail sent reaches the feedback service on the",
        "`<env>-dripr-ses-feedback` topic, in SNS's envelope (not raw): the SQS body is an SNS",
        "notification whose `Message` is SES's JSON. The format is SES's own: configuration-set",
        "event publishing (`eventType`), which `dripr provision` and the template set up, and an",
        "identity's notifications (`notificationType`), read too. The schema covers only what",
        "dripr reads; SES's other fields are ignored.",
        "",
        "JSON Schema: [schemas/ses-feedback.json](schemas/ses-feedback.json)",
        "",
        "| field | meaning |",
        "| --- | --- |",
        "| `eventType` or `notificationType` | "
        + ", ".join(f"`{k}`" for k in ses_reference.ACTED_ON)
        + " act; "
        + ", ".join(f"`{k}`" for k in ses_reference.IGNORED)
        + " are deleted unrecorded; anything else is dead-lettered |",
        "| `mail.messageId` | SES's message id, matched to a delivery's `provider_message_id` |",
        "| `mail.tags.delivery` | dripr's delivery id (every email carries it); matched first |",
        "| `mail.destination` | the recipients of a Send, Reject (or Delivery without its own) |",
        "| `bounce.bounceType`, `bounce.bouncedRecipients[].emailAddress` | `Permanent` "
        "suppresses the address; `Transient` counts toward the soft-bounce limit |",
        "| `complaint.complainedRecipients[].emailAddress` | suppressed |",
        "| `feedbackId` (in `bounce`, `complaint`) | with the kind, message id and recipients, "
        "the notification's identity: a second copy is a duplicate |",
        "",
        'A notification that matches no delivery is dead-lettered with "no delivery has SES',
        'message id …"; one missing what the schema requires, with the reason. Effects, the',
        "guard and suppressions: [sending.md](../sending.md#deliverability-what-ses-says-back).",
        "To inject one, publish the JSON as the message of the feedback topic",
        "(`aws sns publish --topic-arn …-ses-feedback --message file://bounce.json`), with the",
        "`messageId` and `delivery` tag of a real delivery (the `provider_message_id` and `id`",
        "of its row in the `deliveries` table, [database.md](database.md)).",
    ]
    for title, example in ses_reference.EXAMPLES.items():
        parts += ["", f"Example, {title}:", "", "```json", json.dumps(example, indent=2), "```"]
    return parts


def write(directory: Path = REFERENCE) -> None:
    (directory / "schemas").mkdir(parents=True, exist_ok=True)
    (directory / "events.md").write_text(render())
    for model, slug in SLUGS.items():
        (directory / "schemas" / f"{slug}.json").write_text(schema_text(model))
    (directory / "schemas" / "ses-feedback.json").write_text(ses_feedback_schema_text())


def ses_feedback_schema_text() -> str:
    return json.dumps(ses_reference.SCHEMA, indent=2) + "\n"


if __name__ == "__main__":
    write()
