"""The real consumer runtime on the emulator: batches of generated messages, sent at once.

Every message ends handled or in the DLQ with its reason, and the loop runs on throughout.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from infra.provision import Report
from shared.adapters.db.uow import SqlUnitOfWork
from shared.adapters.topology import TOPOLOGY
from shared.bootstrap import Runtime
from shared.consumer.envelope import parse_body
from shared.consumer.outcomes import Reject
from shared.domain.events import MalformedMessage, StatusChange
from tests.fakes import MAX_ATTRIBUTES
from tests.fuzz.profiles import examples
from tests.fuzz.test_consumer_dispatch import messages
from tests.support import eventually, receive_all

QUEUE = TOPOLOGY.queue("intro")


def expected_handled(body: str) -> StatusChange | None:
    """The event the handler accepts from this body: a STATUS_CHANGE with an even campaign."""
    try:
        event = parse_body(body)
    except MalformedMessage:
        return None
    if isinstance(event, StatusChange) and event.campaign_id % 2 == 0:
        return event
    return None


async def handle(event: StatusChange, uow: SqlUnitOfWork, seen: list[str]) -> None:
    if event.campaign_id % 2:
        raise Reject(f"campaign {event.campaign_id} is odd")
    seen.append(str(event.event_id))


@examples(12)
@given(batch=st.lists(messages, min_size=1, max_size=10))
async def test_a_batch_of_anything_ends_handled_or_dead_lettered_with_a_reason(
    runtime: Runtime, topology: Report, batch: list[dict[str, Any]]
) -> None:
    url = await runtime.queue_url(QUEUE)
    sent = await runtime.sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": str(i), "MessageBody": m["Body"], "MessageAttributes": m["MessageAttributes"]}
            for i, m in enumerate(batch)
        ],
    )
    assert not sent.get("Failed"), sent["Failed"]
    ids = {int(entry["Id"]): entry["MessageId"] for entry in sent["Successful"]}
    handled = [expected_handled(m["Body"]) for m in batch]
    to_dlq = {ids[i]: m["Body"] for i, m in enumerate(batch) if handled[i] is None}
    seen: list[str] = []
    letters: dict[str, dict[str, Any]] = {}

    consumer = await runtime.consumer(
        QUEUE, {StatusChange: lambda e, uow: handle(e, uow, seen)}, wait_time_seconds=1
    )
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))

    async def all_accounted_for() -> bool:
        for letter in await receive_all(runtime.sqs, topology.dlq_urls[QUEUE.name]):
            attributes = letter["MessageAttributes"]
            letters[attributes["source_message_id"]["StringValue"]] = letter
        return len(letters) == len(to_dlq) and len(seen) == len(batch) - len(to_dlq)

    try:
        await eventually(all_accounted_for, within=30)
        assert not running.done(), "the consumer loop stopped"
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=30)

    assert Counter(seen) == Counter(str(e.event_id) for e in handled if e is not None)
    assert set(letters) == set(to_dlq)
    for message_id, letter in letters.items():
        assert letter["Body"] == to_dlq[message_id]
        assert letter["MessageAttributes"]["failure_reason"]["StringValue"].strip()
        assert len(letter["MessageAttributes"]) <= MAX_ATTRIBUTES
    await eventually(lambda: _empty(runtime, url))


async def _empty(runtime: Runtime, url: str) -> bool:
    attributes = (
        await runtime.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
    )["Attributes"]
    return set(attributes.values()) == {"0"}
