"""Turning an SQS message body back into an event: the one way in.

A body is either the raw event JSON (raw-delivery subscriptions, or a message sent straight to a
queue) or an SNS notification envelope around it. Inside, a dripr event carries `event_type`;
an SES notification (the feedback topic's) is read into an `SesFeedback`. Anything else is
rejected with a `MalformedMessage` whose text says why; the consumer runtime dead-letters it with
that reason.
"""

from __future__ import annotations

import json
from typing import Any

from shared.domain.events import Event, MalformedMessage, parse_event
from shared.domain.feedback import is_ses_notification, parse_ses_notification


def parse_body(body: str) -> Event:
    """Parse an SQS message body, unwrapping an SNS envelope if there is one."""
    document = _load_json(body, "message body")
    if isinstance(document, dict) and document.get("Type") == "Notification":
        message = document.get("Message")
        if isinstance(message, dict):  # moto publishes its canned SES notifications so
            document = message
        elif isinstance(message, str):
            document = _load_json(message, "SNS Message")
        else:
            raise MalformedMessage("SNS envelope has no string 'Message'")
    if not isinstance(document, dict):
        raise MalformedMessage(f"expected a JSON object, got {type(document).__name__}")
    if "event_type" not in document and is_ses_notification(document):
        return parse_ses_notification(document)
    if "event_type" not in document:
        raise MalformedMessage("not a dripr event: no 'event_type'")
    return parse_event(document)


def _load_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    # ValueError also covers bytes that are not UTF-8 and integers too long to convert; a
    # nesting deeper than the interpreter's recursion limit raises RecursionError.
    except (ValueError, TypeError, RecursionError) as exc:
        raise MalformedMessage(f"{what} is not JSON: {exc}") from exc
