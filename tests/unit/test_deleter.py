"""The batch deleter: handled messages acknowledged ten to a call, within a linger."""

from __future__ import annotations

import asyncio
from typing import Any

from shared.consumer.deleter import LINGER_SECONDS, BatchDeleter


class RecordingSqs:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> Any:
        self.calls.append([entry["ReceiptHandle"] for entry in Entries])
        return {"Successful": [{"Id": entry["Id"]} for entry in Entries]}


async def test_receipts_within_the_linger_share_one_call() -> None:
    sqs = RecordingSqs()
    deleter = BatchDeleter(sqs, "queue")
    deleter.start()
    for receipt in ("a", "b", "c"):  # handlers finishing a few milliseconds apart
        deleter.delete(receipt)
        await asyncio.sleep(LINGER_SECONDS / 20)
    await asyncio.sleep(LINGER_SECONDS * 1.5)
    assert sqs.calls == [["a", "b", "c"]]
    await deleter.close()


async def test_a_full_batch_goes_at_once_and_the_rest_after_the_linger() -> None:
    sqs = RecordingSqs()
    deleter = BatchDeleter(sqs, "queue", linger=0.05)
    deleter.start()
    for i in range(12):
        deleter.delete(f"r{i}")
    await asyncio.sleep(0.01)
    assert [len(call) for call in sqs.calls] == [10]
    await asyncio.sleep(0.1)
    assert [len(call) for call in sqs.calls] == [10, 2]
    await deleter.close()


async def test_close_flushes_what_is_queued_without_waiting() -> None:
    sqs = RecordingSqs()
    deleter = BatchDeleter(sqs, "queue", linger=60)
    deleter.start()
    deleter.delete("a")
    await asyncio.sleep(0)
    deleter.delete("b")
    await asyncio.wait_for(deleter.close(), timeout=1)
    assert sorted(receipt for call in sqs.calls for receipt in call) == ["a", "b"]
