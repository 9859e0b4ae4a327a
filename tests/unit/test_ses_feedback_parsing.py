"""SES's two notification formats, read into one event; what cannot be read, refused with why."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.consumer.envelope import parse_body
from shared.devtools.ses_feedback import ses_event, sns_envelope
from shared.domain.events import MalformedMessage
from shared.domain.feedback import (
    BounceType,
    FeedbackKind,
    IgnoredNotification,
    SesFeedback,
    SuppressionReason,
    parse_ses_notification,
)
from shared.domain.sends import Guard

TOPIC = "arn:aws:sns:us-east-1:123456789012:prod-dripr-ses-feedback"

IDENTITY_BOUNCE: dict[str, Any] = {
    # AWS's documented example of an identity notification (notificationType format), as moto
    # also publishes it: no tags, a timestamp SES writes with a space before the zone.
    "notificationType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {
                "status": "5.0.0",
                "action": "failed",
                "diagnosticCode": "smtp; 550 user unknown",
                "emailAddress": "Recipient1@Example.com",
            }
        ],
        "timestamp": "2012-05-25T14:59:38.605Z",
        "feedbackId": "000001378603176d-5a4b5ad9-6f30-4198-a8c3-b1eb0c270a1d-000000",
    },
    "mail": {
        "timestamp": "2018-10-08T14:05:45 +0000",
        "messageId": "000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000",
        "source": "sender@example.com",
        "destination": ["recipient1@example.com"],
    },
}


def parsed(document: dict[str, Any]) -> SesFeedback:
    event = parse_body(sns_envelope(document, TOPIC))
    assert isinstance(event, SesFeedback)
    return event


def test_a_configuration_set_bounce_names_its_delivery_by_tag() -> None:
    event = parsed(ses_event("Bounce", "m-1", "gone@example.com", tags={"delivery": "42"}))

    assert (event.kind, event.bounce_type, event.delivery_id) == (
        FeedbackKind.BOUNCE,
        BounceType.PERMANENT,
        42,
    )
    assert event.recipients == ("gone@example.com",)
    assert event.suppresses is SuppressionReason.BOUNCE
    assert event.detail and "550 5.1.1" in event.detail


def test_an_identity_notification_is_read_too_without_tags() -> None:
    event = parsed(IDENTITY_BOUNCE)

    assert (event.kind, event.delivery_id) == (FeedbackKind.BOUNCE, None)
    assert event.ses_message_id == IDENTITY_BOUNCE["mail"]["messageId"]
    assert event.recipients == ("Recipient1@Example.com",)


def test_complaints_suppress_and_soft_bounces_and_deliveries_do_not_by_themselves() -> None:
    complaint = parsed(ses_event("Complaint", "m-2", "angry@example.com"))
    soft = parsed(ses_event("Bounce", "m-3", "full@example.com", bounce_type="Transient"))
    delivered = parsed(ses_event("Delivery", "m-4", "fine@example.com"))
    send = parsed(ses_event("Send", "m-5", "fine@example.com", tags={"delivery": "7"}))

    assert complaint.suppresses is SuppressionReason.COMPLAINT
    assert soft.suppresses is None and soft.bounce_type is BounceType.TRANSIENT
    assert delivered.suppresses is None and delivered.kind is FeedbackKind.DELIVERY
    assert (send.kind, send.delivery_id) == (FeedbackKind.SEND, 7)


def test_the_same_notification_twice_has_the_same_event_id_and_another_does_not() -> None:
    document = ses_event("Bounce", "m-1", "gone@example.com", feedback_id="fb-1")

    first, again = parsed(document), parsed(json.loads(json.dumps(document)))
    other = parsed(ses_event("Bounce", "m-1", "gone@example.com", feedback_id="fb-2"))
    complaint = parsed(ses_event("Complaint", "m-1", "gone@example.com", feedback_id="fb-1"))

    assert first.event_id == again.event_id
    assert len({first.event_id, other.event_id, complaint.event_id}) == 3


def test_the_raw_notification_without_its_envelope_is_read_as_well() -> None:
    event = parse_body(json.dumps(ses_event("Delivery", "m-9", "a@example.com")))

    assert isinstance(event, SesFeedback) and event.kind is FeedbackKind.DELIVERY


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"eventType": "Bounce", "mail": {}}, "no messageId"),
        ({"eventType": "Exploded", "mail": {"messageId": "m"}}, "unknown SES notification"),
        (
            {
                "eventType": "Bounce",
                "mail": {"messageId": "m"},
                "bounce": {"bounceType": "Soft", "bouncedRecipients": [{"emailAddress": "a@b"}]},
            },
            "unknown bounceType",
        ),
        (
            {
                "eventType": "Bounce",
                "mail": {"messageId": "m"},
                "bounce": {"bounceType": "Permanent", "bouncedRecipients": []},
            },
            "names no recipient",
        ),
        ({"eventType": "Complaint", "mail": {"messageId": "m"}, "complaint": []}, "not an object"),
        ({"notificationType": 3, "mail": {"messageId": "m"}}, "no string eventType"),
    ],
)
def test_a_malformed_notification_is_refused_with_the_reason(
    document: dict[str, Any], reason: str
) -> None:
    with pytest.raises(MalformedMessage, match=reason):
        parse_ses_notification(document)


@pytest.mark.parametrize(
    "event_type", ["Open", "Click", "Rendering Failure", "DeliveryDelay", "Subscription"]
)
def test_opens_clicks_and_the_other_event_types_are_ignored_rather_than_dead_lettered(
    event_type: str,
) -> None:
    """SES's own spellings (its docs list `Rendering Failure` with a space)."""
    with pytest.raises(IgnoredNotification):
        parse_body(sns_envelope({"eventType": event_type, "mail": {"messageId": "m"}}, TOPIC))


def test_the_guard_judges_only_over_enough_mail_and_names_the_rate() -> None:
    guard = Guard(bounce_rate=0.05, complaint_rate=0.001, min_sent=100)

    assert guard.tripped(sent=99, bounced=50, complained=9) is None
    assert guard.tripped(sent=1000, bounced=49, complained=0) is None
    bounced = guard.tripped(sent=1000, bounced=50, complained=0)
    complained = guard.tripped(sent=1000, bounced=0, complained=1)
    assert bounced and "bounce rate 5.00% (50 of 1000)" in bounced
    assert complained and "complaint rate 0.10% (1 of 1000)" in complained
