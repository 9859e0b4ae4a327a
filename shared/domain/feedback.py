"""What SES tells us about the mail we sent: sends, deliveries, bounces and complaints.

SES writes two JSON formats to SNS: identity notifications (`notificationType`: Bounce,
Complaint, Delivery) and configuration-set event publishing (`eventType`: Send, Delivery,
Bounce, Complaint, Reject, ...). Both carry a `mail` object with SES's message id; event
publishing adds the message tags, which name the delivery. `parse_ses_notification` reads
either into one `SesFeedback` event; anything it cannot read is a `MalformedMessage`, which the
consumer runtime dead-letters with the reason.

The event id is derived from what SES reports (kind, message id, feedback id, recipients), so a
notification SNS or SQS delivers twice is recognised by the consumer's processed marker.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal
from uuid import NAMESPACE_URL, uuid5

from pydantic import Field

from shared.domain.events import Event, MalformedMessage

FEEDBACK_NAMESPACE = uuid5(NAMESPACE_URL, "https://dripr.example/ses-feedback")


class FeedbackKind(StrEnum):
    SEND = "SEND"
    """SES accepted the message (configuration-set events only)."""
    DELIVERY = "DELIVERY"
    BOUNCE = "BOUNCE"
    COMPLAINT = "COMPLAINT"
    REJECT = "REJECT"
    """SES refused to send it (a virus, say): nothing went out."""


class BounceType(StrEnum):
    PERMANENT = "Permanent"
    TRANSIENT = "Transient"
    UNDETERMINED = "Undetermined"


class SuppressionReason(StrEnum):
    BOUNCE = "BOUNCE"
    """A permanent (hard) bounce: the address does not exist or refuses mail for good."""
    COMPLAINT = "COMPLAINT"
    """The recipient marked the email as spam."""
    TRANSIENT_BOUNCES = "TRANSIENT_BOUNCES"
    """Soft bounces, one after another, up to the configured limit."""


_KINDS = {
    "send": FeedbackKind.SEND,
    "delivery": FeedbackKind.DELIVERY,
    "bounce": FeedbackKind.BOUNCE,
    "complaint": FeedbackKind.COMPLAINT,
    "reject": FeedbackKind.REJECT,
}
IGNORED_EVENT_TYPES = frozenset(
    {"open", "click", "renderingfailure", "deliverydelay", "subscription", "received"}
)
"""Event types a configuration set may publish that change nothing in dripr, folded as
`_folded` folds them (SES writes `Rendering Failure` with a space)."""


class SesFeedback(Event):
    """One SES notification, as dripr needs it."""

    event_type: Literal["SES_FEEDBACK"] = "SES_FEEDBACK"
    version: Literal[1] = 1
    kind: FeedbackKind
    ses_message_id: str = Field(min_length=1, max_length=200)
    recipients: tuple[str, ...] = Field(min_length=1)
    """The addresses this notification is about (the bounced or complained ones)."""
    bounce_type: BounceType | None = None
    detail: str | None = None
    """What a person reading the record wants: the bounce subtype and diagnostic, the
    complaint's feedback type."""
    delivery_id: int | None = Field(None, gt=0)
    """From the `delivery` message tag, when SES passed the tags on."""

    @property
    def suppresses(self) -> SuppressionReason | None:
        """The reason this notification alone suppresses its recipients, if it does."""
        if self.kind is FeedbackKind.COMPLAINT:
            return SuppressionReason.COMPLAINT
        if self.kind is FeedbackKind.BOUNCE and self.bounce_type is BounceType.PERMANENT:
            return SuppressionReason.BOUNCE
        return None


class IgnoredNotification(Exception):
    """An SES event type dripr does not act on (opens, clicks): deleted without a record."""


def is_ses_notification(document: dict[str, Any]) -> bool:
    return isinstance(document.get("mail"), dict) and (
        "notificationType" in document or "eventType" in document
    )


def parse_ses_notification(document: dict[str, Any]) -> SesFeedback:
    """Read an SES notification (either format) or raise `MalformedMessage` saying why."""
    raw_kind = document.get("eventType", document.get("notificationType"))
    if not isinstance(raw_kind, str):
        raise MalformedMessage("SES notification has no string eventType or notificationType")
    if _folded(raw_kind) in IGNORED_EVENT_TYPES:
        raise IgnoredNotification(raw_kind)
    kind = _KINDS.get(_folded(raw_kind))
    if kind is None:
        raise MalformedMessage(f"unknown SES notification type {raw_kind!r}")
    mail = document["mail"]
    message_id = mail.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        raise MalformedMessage("SES notification's mail has no messageId")
    body = _object(document, kind.value.lower())
    recipients = _recipients(kind, body, mail)
    bounce_type: BounceType | None = None
    detail: str | None = None
    if kind is FeedbackKind.BOUNCE:
        try:
            bounce_type = BounceType(str(body.get("bounceType")))
        except ValueError:
            raise MalformedMessage(f"unknown bounceType {body.get('bounceType')!r}") from None
        detail = _bounce_detail(body)
    elif kind is FeedbackKind.COMPLAINT:
        detail = str(body.get("complaintFeedbackType") or "complaint")
    elif kind is FeedbackKind.REJECT:
        detail = str(body.get("reason") or "rejected by SES")
    delivery_id = _delivery_tag(mail)
    identity = "|".join(
        [kind.value, message_id, str(body.get("feedbackId", "")), *sorted(recipients)]
    )
    return SesFeedback(
        event_id=uuid5(FEEDBACK_NAMESPACE, identity),
        kind=kind,
        ses_message_id=message_id,
        recipients=tuple(recipients),
        bounce_type=bounce_type,
        detail=detail[:1000] if detail else None,
        delivery_id=delivery_id,
    )


def _folded(kind: str) -> str:
    return kind.replace(" ", "").replace("_", "").lower()


def _object(document: dict[str, Any], key: str) -> dict[str, Any]:
    value = document.get(key, {})
    if not isinstance(value, dict):
        raise MalformedMessage(f"SES notification's {key!r} is not an object")
    return value


def _recipients(kind: FeedbackKind, body: dict[str, Any], mail: dict[str, Any]) -> list[str]:
    if kind is FeedbackKind.BOUNCE:
        found = [r.get("emailAddress") for r in body.get("bouncedRecipients") or []]
    elif kind is FeedbackKind.COMPLAINT:
        found = [r.get("emailAddress") for r in body.get("complainedRecipients") or []]
    elif kind is FeedbackKind.DELIVERY:
        found = list(body.get("recipients") or mail.get("destination") or [])
    else:
        found = list(mail.get("destination") or [])
    addresses = [a.strip() for a in found if isinstance(a, str) and a.strip()]
    if not addresses:
        raise MalformedMessage(f"SES {kind.value.lower()} notification names no recipient")
    return addresses


def _bounce_detail(body: dict[str, Any]) -> str:
    parts = [str(body.get("bounceType")), str(body.get("bounceSubType") or "")]
    for recipient in body.get("bouncedRecipients") or []:
        if isinstance(recipient, dict) and recipient.get("diagnosticCode"):
            parts.append(str(recipient["diagnosticCode"]))
            break
    return " ".join(p for p in parts if p)


def _delivery_tag(mail: dict[str, Any]) -> int | None:
    """The `delivery` tag dripr puts on every email; SES lists each tag's values."""
    tags = mail.get("tags")
    if not isinstance(tags, dict):
        return None
    values = tags.get("delivery")
    value = values[0] if isinstance(values, list) and values else values
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if number > 0 else None
