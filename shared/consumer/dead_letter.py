"""Dead-lettering with a reason: a copy on the DLQ that says why, then the original deleted.

SQS's own redrive (after maxReceiveCount) moves a message with no word of what went wrong. The
runtime moves what it gives up on itself, so every dead letter carries `failure_reason`,
`source_queue`, `source_message_id` and `failed_consumer` attributes beside the message's own,
its trace context first among those, so a dead letter still names its trace.
"""

from __future__ import annotations

import re
from typing import Any

import structlog

from shared.adapters.publisher import string_attributes
from shared.observability.propagation import TRACE_ATTRIBUTES

log = structlog.get_logger(__name__)

MAX_ATTRIBUTES = 10
"""SQS refuses a message with more attributes than this, so a DLQ copy keeps what fits."""
_REFUSED_BY_SQS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters SQS refuses in a message attribute value."""


class DeadLetterer:
    def __init__(self, sqs: Any, consumer: str, queue_url: str) -> None:
        self._sqs = sqs
        self._consumer = consumer
        self._queue_url = queue_url
        self.dlq_url: str | None = None
        """From the queue's redrive policy; with none, a dead letter is left for SQS's redrive."""

    async def send(self, message: dict[str, Any], reason: str) -> None:
        """Copy to the DLQ with the reason, then delete; with no DLQ, leave it for redrive."""
        reason = _REFUSED_BY_SQS.sub("\ufffd", reason)  # e.g. a NUL from a JSON key
        log.error("message.dead_lettered", reason=reason, body=message.get("Body", "")[:500])
        if self.dlq_url is None:
            return
        ours = string_attributes(
            {
                "failure_reason": reason[:1000],
                "source_queue": self._queue_url.rsplit("/", 1)[-1],
                "source_message_id": message.get("MessageId", ""),
                "failed_consumer": self._consumer,
            }
        )
        theirs = sorted(
            (
                (key, value)
                for key, value in message.get("MessageAttributes", {}).items()
                if value.get("DataType", "").startswith(("String", "Number")) and key not in ours
            ),
            key=lambda item: item[0] not in TRACE_ATTRIBUTES,
        )
        attributes = dict(theirs[: MAX_ATTRIBUTES - len(ours)]) | ours
        await self._sqs.send_message(
            QueueUrl=self.dlq_url,
            MessageBody=message.get("Body") or "(empty)",
            MessageAttributes=attributes,
        )
        await self._sqs.delete_message(
            QueueUrl=self._queue_url,
            ReceiptHandle=message["ReceiptHandle"],
        )
