"""The lock on a message is its visibility timeout: extend it while working, end it to retry."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

log = structlog.get_logger(__name__)

MAX_VISIBILITY_SECONDS = 43_200
"""SQS refuses to keep a message hidden longer than twelve hours from its receipt."""
CEILING_MARGIN_SECONDS = 60
"""Kept clear of that ceiling: the receipt time here is when the response arrived, a little
after SQS started counting."""


class Visibility:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        timeout: int = 30,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._clock = clock
        self._sleep = sleep
        self.timeout = timeout
        """The queue's own visibility timeout, read when the consumer starts."""

    async def heartbeat(self, receipt: str, received_at: float | None = None) -> None:
        """Keep a live handler's message invisible for as long as the handler runs.

        Every third of the timeout it sets the message hidden for one more timeout from now, so
        each extension lands with two thirds of the timeout to spare (20 s at 30 s: room for a
        slow ChangeMessageVisibility, or for one that fails and is tried again on the next beat,
        which keeps its time however long the failed call took). SQS
        refuses to hide a message beyond twelve hours from its receipt (`received_at`, on this
        object's clock): the last extension stops there, and a handler still running then
        loses its lock (the work is idempotent, so a second consumer taking it is safe).
        Runs until cancelled.
        """
        received_at = self._clock() if received_at is None else received_at
        interval = max(1.0, self.timeout / 3)
        due = received_at
        while True:
            due += interval  # on a fixed beat: a slow call does not push the next one later
            await self._sleep(max(0.0, due - self._clock()))
            left = MAX_VISIBILITY_SECONDS - CEILING_MARGIN_SECONDS - (self._clock() - received_at)
            extend = min(self.timeout, math.floor(left))
            if extend <= 0:
                log.warning("message.visibility_ceiling", hours=MAX_VISIBILITY_SECONDS / 3600)
                return
            try:
                await self._sqs.change_message_visibility(
                    QueueUrl=self._queue_url, ReceiptHandle=receipt, VisibilityTimeout=extend
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
