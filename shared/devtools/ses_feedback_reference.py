"""SES's feedback as dripr reads it: the part of SES's notification format the feedback service
relies on, as JSON Schema, with an example of each kind that acts.

SES owns the format (its "event publishing" records, and the older identity notifications); this
schema says only what dripr needs from it, so a user can check a notification they inject by hand
(LocalStack's SES sends none) before publishing it to the feedback topic. It is written by hand
from `shared/domain/feedback.py`'s rules; tests/integration/test_events_reference.py checks that
the examples pass both it and the parser, and that what it refuses the parser refuses too.
"""

from __future__ import annotations

from typing import Any

ACTED_ON = ["Send", "Delivery", "Bounce", "Complaint", "Reject"]
IGNORED = ["Open", "Click", "Rendering Failure", "DeliveryDelay", "Subscription"]

_ADDRESSES = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}
_NAMED_ADDRESSES = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["emailAddress"],
        "properties": {"emailAddress": {"type": "string", "minLength": 1}},
    },
}


def _when(kind: str, then: dict[str, Any]) -> dict[str, Any]:
    """Under either name of the type field: SES's event publishing and identity formats."""
    return {
        "if": {
            "anyOf": [
                {"required": ["eventType"], "properties": {"eventType": {"const": kind}}},
                {
                    "required": ["notificationType"],
                    "properties": {"notificationType": {"const": kind}},
                },
            ]
        },
        "then": then,
    }


SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://dripr.example/schemas/ses-feedback.json",
    "title": "SesNotification",
    "description": "The part of an SES notification (the `Message` of an SNS notification on "
    "the feedback topic) that dripr's feedback service reads. Other fields SES writes are "
    "allowed and ignored.",
    "type": "object",
    "required": ["mail"],
    "oneOf": [{"required": ["eventType"]}, {"required": ["notificationType"]}],
    "properties": {
        "eventType": {
            "enum": ACTED_ON + IGNORED,
            "description": "configuration-set event publishing (what dripr provisions)",
        },
        "notificationType": {
            "enum": ["Delivery", "Bounce", "Complaint"],
            "description": "an identity's own notifications (the older format)",
        },
        "mail": {
            "type": "object",
            "required": ["messageId"],
            "properties": {
                "messageId": {
                    "type": "string",
                    "minLength": 1,
                    "description": "SES's message id: the delivery's `provider_message_id`",
                },
                "destination": {
                    **_ADDRESSES,
                    "description": "the recipients; a Send's or Reject's addresses",
                },
                "tags": {
                    "type": "object",
                    "description": "the message tags; `delivery` names dripr's delivery row, "
                    "`campaign` and `cycle` ride along",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        "bounce": {
            "type": "object",
            "required": ["bounceType", "bouncedRecipients"],
            "properties": {
                "bounceType": {"enum": ["Permanent", "Transient", "Undetermined"]},
                "bounceSubType": {"type": "string"},
                "bouncedRecipients": _NAMED_ADDRESSES,
                "feedbackId": {"type": "string"},
            },
        },
        "complaint": {
            "type": "object",
            "required": ["complainedRecipients"],
            "properties": {
                "complainedRecipients": _NAMED_ADDRESSES,
                "complaintFeedbackType": {"type": "string"},
                "feedbackId": {"type": "string"},
            },
        },
        "delivery": {"type": "object", "properties": {"recipients": _ADDRESSES}},
        "reject": {"type": "object", "properties": {"reason": {"type": "string"}}},
    },
    "allOf": [
        _when("Bounce", {"required": ["bounce"]}),
        _when("Complaint", {"required": ["complaint"]}),
        _when(
            "Delivery",
            {
                "anyOf": [
                    {
                        "required": ["delivery"],
                        "properties": {"delivery": {"required": ["recipients"]}},
                    },
                    {"properties": {"mail": {"required": ["destination"]}}},
                ]
            },
        ),
        _when("Send", {"properties": {"mail": {"required": ["destination"]}}}),
        _when("Reject", {"properties": {"mail": {"required": ["destination"]}}}),
    ],
}

MESSAGE_ID = "010001936f1c2a3b-1d2e3f40-5a6b-4c7d-8e9f-0a1b2c3d4e5f-000000"

EXAMPLES: dict[str, dict[str, Any]] = {
    "a hard bounce (event publishing)": {
        "eventType": "Bounce",
        "mail": {
            "timestamp": "2026-12-02T09:40:00.000Z",
            "messageId": MESSAGE_ID,
            "destination": ["owner@example.com"],
            "tags": {"campaign": ["42"], "cycle": ["3"], "delivery": ["1017"]},
        },
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {"emailAddress": "owner@example.com", "diagnosticCode": "smtp; 550 user unknown"}
            ],
            "feedbackId": "010001936f1c2b00-bounce-1",
        },
    },
    "a complaint (event publishing)": {
        "eventType": "Complaint",
        "mail": {
            "messageId": MESSAGE_ID,
            "destination": ["owner@example.com"],
            "tags": {"delivery": ["1017"]},
        },
        "complaint": {
            "complainedRecipients": [{"emailAddress": "owner@example.com"}],
            "complaintFeedbackType": "abuse",
            "feedbackId": "010001936f1c2c00-complaint-1",
        },
    },
    "a delivery (identity notification)": {
        "notificationType": "Delivery",
        "mail": {"messageId": MESSAGE_ID, "destination": ["owner@example.com"]},
        "delivery": {"recipients": ["owner@example.com"], "smtpResponse": "250 2.0.0 OK"},
    },
}
"""Notifications as SES writes them, trimmed to what dripr reads plus a little context."""
