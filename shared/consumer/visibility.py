"""The lock on a message is its visibility timeout: extend it while working, end it to retry."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import structlog

log = structlog.get_logger(__name__)

MAX_VISIBILITY_SECONDS = 43_200
"""SQS refuses a visibility timeout longer than twelve hours."""


class Visibility:
    def __init__(self, sqs: Any, queue_url: str, timeout: int = 30) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self.timeout = timeout
        """The queue's own visibility timeout, read when the consumer starts."""

    async def heartbeat(self, receipt: str) -> None:
        """Keep a long handler's message invisible: extend the timeout each third of it.

        Runs until cancelled; a failed extension is logged and tried again next beat.
        """
        interval = max(1.0, self.timeout / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await self._sqs.change_message_visibility(
                    QueueUrl=self._queue_url, ReceiptHandle=receipt, VisibilityTimeout=self.timeout
                )
            except Exception as exc:
                log.warning("message.heartbeat_failed", error=str(exc))

    async def release(self, receipt: str, delay: float) -> None:
        """Make the message visible again after `delay` seconds (0: at once)."""
        try:
            await self._sqs.change_message_visibility(
                QueueUrl=self._queue_url,
                ReceiptHandle=receipt,
                # Rounded up: int(0.4) would make a "not yet" message visible at once, and each
                # early receive counts towards maxReceiveCount.
                VisibilityTimeout=math.ceil(max(0, min(delay, MAX_VISIBILITY_SECONDS))),
            )
        except Exception as exc:  # it will become visible when its timeout runs out anyway
            log.warning("message.release_failed", error=str(exc))
