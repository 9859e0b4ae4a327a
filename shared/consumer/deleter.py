"""Acknowledge handled messages in batches: one DeleteMessageBatch call for up to ten.

Handlers finish at nearly the same moment when they are short, so deleting one by one would
cost ten calls where one does. A message whose delete is lost (a crash before the flush, an SQS
error) comes back after its visibility timeout and is recognised as a duplicate.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

log = structlog.get_logger(__name__)

BATCH = 10


class BatchDeleter:
    def __init__(self, sqs: Any, queue_url: str, *, linger: float = 0.01) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._linger = linger
        self._pending: asyncio.Queue[str] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def delete(self, receipt: str) -> None:
        self._pending.put_nowait(receipt)

    async def close(self) -> None:
        """Flush everything queued, then stop."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        while not self._pending.empty():
            batch = [self._pending.get_nowait() for _ in range(min(BATCH, self._pending.qsize()))]
            await self._delete(batch)

    async def _run(self) -> None:
        while True:
            batch = [await self._pending.get()]
            deadline = asyncio.get_running_loop().time() + self._linger
            while len(batch) < BATCH:
                if not self._pending.empty():
                    batch.append(self._pending.get_nowait())
                    continue
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._pending.get(), remaining))
                except TimeoutError:
                    break
            await self._delete(batch)

    async def _delete(self, receipts: list[str]) -> None:
        entries = [{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(receipts)]
        try:
            response = await self._sqs.delete_message_batch(
                QueueUrl=self._queue_url, Entries=entries
            )
        except Exception as exc:
            log.warning("message.delete_failed", count=len(receipts), error=str(exc))
            return
        for failure in response.get("Failed", []):
            log.warning(
                "message.delete_failed", error=failure.get("Message"), code=failure.get("Code")
            )
