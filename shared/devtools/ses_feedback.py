"""A stand-in for SES's event publishing on an emulator, in SES's own format.

moto publishes notifications only for the identity (canned placeholders, with a fixed message
id and example recipients), and LocalStack publishes none, so an emulator never tells dripr
about its own mail. This does what SES does for a configuration set with an SNS event
destination: for each email the emulator accepted it publishes a Send event, then a Bounce for
`bounce@simulator.amazonses.com` (or `bounce+label@`), a Complaint for `complaint@…`, a
Delivery for anyone else, each with the real message id, the recipient and the message's tags
(read from its `X-SES-MESSAGE-TAGS` header), to the feedback topic. The formats follow AWS's
"Contents of event data that Amazon SES publishes to Amazon SNS"; tests build single
notifications with `ses_event`.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import structlog

from shared.devtools.emulator import moto_sent_emails

log = structlog.get_logger(__name__)

SIMULATOR_DOMAIN = "simulator.amazonses.com"
BOUNCE_ADDRESS = f"bounce@{SIMULATOR_DOMAIN}"
COMPLAINT_ADDRESS = f"complaint@{SIMULATOR_DOMAIN}"


def fate_of(address: str) -> str:
    """What SES's mailbox simulator does with an address: `bounce@`, `complaint@` (with or
    without a `+label`, as SES allows) bounce or complain; anything else is delivered."""
    local, _, domain = address.lower().partition("@")
    if domain == SIMULATOR_DOMAIN:
        kind = local.split("+", 1)[0]
        if kind in ("bounce", "complaint"):
            return kind.capitalize()
    return "Delivery"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def ses_event(
    event_type: str,
    message_id: str,
    recipient: str,
    *,
    tags: dict[str, str] | None = None,
    bounce_type: str = "Permanent",
    bounce_sub_type: str = "General",
    source: str = "newsletters@dripr.example",
    feedback_id: str | None = None,
) -> dict[str, Any]:
    """One configuration-set event (`eventType` format) as SES publishes it to SNS."""
    document: dict[str, Any] = {
        "eventType": event_type,
        "mail": {
            "timestamp": _now(),
            "source": source,
            "sendingAccountId": "123456789012",
            "messageId": message_id,
            "destination": [recipient],
            "headersTruncated": False,
            "tags": {name: [value] for name, value in (tags or {}).items()},
        },
    }
    feedback = feedback_id or f"{uuid4()}-000000"
    if event_type == "Send":
        document["send"] = {}
    elif event_type == "Delivery":
        document["delivery"] = {
            "timestamp": _now(),
            "processingTimeMillis": 546,
            "recipients": [recipient],
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
        }
    elif event_type == "Bounce":
        document["bounce"] = {
            "bounceType": bounce_type,
            "bounceSubType": bounce_sub_type,
            "bouncedRecipients": [
                {
                    "emailAddress": recipient,
                    "action": "failed",
                    "status": "5.1.1" if bounce_type == "Permanent" else "4.2.2",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown"
                    if bounce_type == "Permanent"
                    else "smtp; 452 4.2.2 mailbox full",
                }
            ],
            "timestamp": _now(),
            "feedbackId": feedback,
            "reportingMTA": "dsn; e226-55.smtp-out.us-east-1.amazonses.com",
        }
    elif event_type == "Complaint":
        document["complaint"] = {
            "complainedRecipients": [{"emailAddress": recipient}],
            "timestamp": _now(),
            "feedbackId": feedback,
            "complaintFeedbackType": "abuse",
            "userAgent": "Mozilla/5.0",
        }
    elif event_type == "Reject":
        document["reject"] = {"reason": "Bad content"}
    return document


def sns_envelope(document: dict[str, Any], topic_arn: str) -> str:
    """The SNS notification an SQS subscriber without raw delivery receives around a message."""
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": str(uuid4()),
            "TopicArn": topic_arn,
            "Message": json.dumps(document),
            "Timestamp": _now(),
            "SignatureVersion": "1",
        }
    )


def message_tags(headers: dict[str, str]) -> dict[str, str]:
    """The tags of `X-SES-MESSAGE-TAGS: name=value, name=value`."""
    raw = headers.get("X-SES-MESSAGE-TAGS", "")
    pairs = (part.split("=", 1) for part in raw.split(",") if "=" in part)
    return {name.strip(): value.strip() for name, value in pairs}


def events_for(message: dict[str, Any]) -> list[dict[str, Any]]:
    """What SES would publish about one accepted email: Send, then its fate per recipient."""
    tags = message_tags(message.get("headers", {}))
    published = []
    addresses = {
        recipient.rsplit("<", 1)[-1].rstrip(">").strip().lower()
        for recipient in message["destinations"]["ToAddresses"]
    }
    for address in sorted(addresses):
        published.append(ses_event("Send", message["id"], address, tags=tags))
        published.append(ses_event(fate_of(address), message["id"], address, tags=tags))
    return published


class FeedbackSimulator:
    """Publishes `events_for` every email the emulator accepts, once, until stopped."""

    def __init__(self, endpoint: str, sns: Any, topic_arn: str, interval: float = 0.5) -> None:
        self._endpoint = endpoint
        self._sns = sns
        self._topic_arn = topic_arn
        self._interval = interval
        self._seen: set[str] = set()
        self.published = 0

    async def run(self, stop: asyncio.Event) -> None:
        stopping = asyncio.ensure_future(stop.wait())
        while not stop.is_set():
            try:
                await self.publish_new()
            except Exception as exc:  # the emulator restarting, say: try again next round
                log.warning("ses_simulator.failed", error=str(exc))
            await asyncio.wait({stopping}, timeout=self._interval)

    async def publish_new(self) -> int:
        messages = await asyncio.to_thread(moto_sent_emails, self._endpoint)
        count = 0
        for message in messages:
            if message["id"] in self._seen or "raw" not in message:
                continue
            self._seen.add(message["id"])
            for document in events_for(message):
                await self._sns.publish(TopicArn=self._topic_arn, Message=json.dumps(document))
                count += 1
        self.published += count
        return count
