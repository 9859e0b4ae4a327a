"""Dead-letter queues: look inside, and redrive selectively through the topic.

SQS's own redrive moves a whole queue blindly. Here a redrive selects by campaign, error text and
age, can say what it would do first (`dry_run`), and re-publishes each STATUS_CHANGE through the
topic with its attributes, so the filter policies route it as they did the first time (a
SEND_BATCH goes straight back to its queue). Messages are only ever peeked by receiving them with
a short visibility timeout and handing them straight back.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from shared.adapters.publisher import Publisher
from shared.adapters.topology import Names, QueueSpec
from shared.consumer.envelope import parse_body
from shared.domain.clock import UtcDatetime
from shared.domain.events import MalformedMessage, SendBatch

NO_REASON = "moved by SQS after maxReceiveCount (no reason recorded)"


class DeadLetter(BaseModel):
    message_id: str
    queue: str
    reason: str
    failed_consumer: str | None
    receive_count: int
    dead_lettered_at: UtcDatetime | None
    age_seconds: float | None
    event_type: str | None
    campaign_id: int | None
    to_status: str | None
    body: str


class RedriveFilter(BaseModel):
    campaign_id: int | None = None
    error_contains: str | None = None
    older_than_seconds: float | None = None
    limit: int = 100


class RedriveResult(BaseModel):
    queue: str
    dry_run: bool
    matched: list[DeadLetter]
    redriven: int
    skipped: dict[str, str]


async def _dlq_url(sqs: Any, names: Names, spec: QueueSpec) -> str:
    return str((await sqs.get_queue_url(QueueName=names.dlq(spec)))["QueueUrl"])


async def _take(sqs: Any, url: str, limit: int) -> list[dict[str, Any]]:
    """Receive up to `limit` messages, hidden for a few seconds; the caller releases or deletes."""
    taken: dict[str, dict[str, Any]] = {}
    while len(taken) < limit:
        response = await sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(10, limit - len(taken)),
            WaitTimeSeconds=0,
            VisibilityTimeout=30,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        )
        batch = response.get("Messages", [])
        if not batch:
            break
        for message in batch:
            taken[message["MessageId"]] = message
    return list(taken.values())


async def _release(sqs: Any, url: str, messages: list[dict[str, Any]]) -> None:
    await asyncio.gather(
        *(
            sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
            )
            for m in messages
        )
    )


def describe(message: dict[str, Any], queue: str) -> DeadLetter:
    attributes = message.get("MessageAttributes", {})

    def attribute(name: str) -> str | None:
        value = attributes.get(name, {}).get("StringValue")
        return str(value) if value is not None else None

    system = message.get("Attributes", {})
    sent = system.get("SentTimestamp")
    at = datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None
    body = message.get("Body", "")
    event_type = campaign_id = to_status = None
    try:
        event = parse_body(body)
    except MalformedMessage:
        pass
    else:
        event_type = event.event_type_name()
        campaign_id = getattr(event, "campaign_id", None)
        to_status = str(getattr(event, "to_status", "") or "") or None
    return DeadLetter(
        message_id=message["MessageId"],
        queue=queue,
        reason=attribute("failure_reason") or NO_REASON,
        failed_consumer=attribute("failed_consumer"),
        receive_count=int(system.get("ApproximateReceiveCount", 0)),
        dead_lettered_at=at,
        age_seconds=(datetime.now(UTC) - at).total_seconds() if at else None,
        event_type=event_type,
        campaign_id=campaign_id,
        to_status=to_status,
        body=body,
    )


async def peek(sqs: Any, names: Names, spec: QueueSpec, limit: int = 10) -> list[DeadLetter]:
    url = await _dlq_url(sqs, names, spec)
    messages = await _take(sqs, url, limit)
    await _release(sqs, url, messages)
    return [describe(m, spec.name) for m in messages]


def _matches(letter: DeadLetter, wanted: RedriveFilter) -> bool:
    if wanted.campaign_id is not None and letter.campaign_id != wanted.campaign_id:
        return False
    if wanted.error_contains and wanted.error_contains.lower() not in letter.reason.lower():
        return False
    return not (
        wanted.older_than_seconds is not None
        and (letter.age_seconds is None or letter.age_seconds < wanted.older_than_seconds)
    )


async def redrive(
    sqs: Any,
    publisher: Publisher,
    names: Names,
    spec: QueueSpec,
    wanted: RedriveFilter,
    *,
    dry_run: bool,
) -> RedriveResult:
    url = await _dlq_url(sqs, names, spec)
    messages = await _take(sqs, url, max(wanted.limit, 1) * 5)
    chosen: list[tuple[dict[str, Any], DeadLetter]] = []
    release: list[dict[str, Any]] = []
    for message in messages:
        letter = describe(message, spec.name)
        if _matches(letter, wanted) and len(chosen) < wanted.limit:
            chosen.append((message, letter))
        else:
            release.append(message)
    skipped: dict[str, str] = {}
    redriven = 0
    for message, letter in chosen:
        if dry_run:
            release.append(message)
            continue
        try:
            event = parse_body(letter.body)
        except MalformedMessage as exc:
            skipped[letter.message_id] = f"not a dripr event, left in the DLQ: {exc}"
            release.append(message)
            continue
        queue = spec.name if isinstance(event, SendBatch) else None
        await publisher.publish(event, queue=queue)
        await sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        redriven += 1
    await _release(sqs, url, release)
    return RedriveResult(
        queue=spec.name,
        dry_run=dry_run,
        matched=[letter for _, letter in chosen],
        redriven=redriven,
        skipped=skipped,
    )
