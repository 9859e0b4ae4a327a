"""The one publisher: events onto the STATUS_CHANGE topic, or straight onto one queue.

Topic messages carry string attributes (`event_type`, `to_status`) for the filter policies.
Direct sends (a SEND_BATCH to the sender's own queue) may be delayed, which is how a send's
cooldown between batches is kept without a timer anywhere.

Each publish is a producer span, and its trace context travels in the message's attributes
(propagation.py), so the handler that receives it continues the same trace.
"""

from __future__ import annotations

from typing import Any, Protocol

from opentelemetry.trace import SpanKind

from shared.adapters.topology import TOPOLOGY, Names
from shared.domain.events import Event
from shared.observability import propagation
from shared.observability.tracing import span

MAX_SQS_DELAY = 900


class Publisher(Protocol):
    """Puts an event on the bus: the relay's port (`SnsPublisher` here, a recording fake in
    tests)."""

    async def publish(
        self, event: Event, *, queue: str | None = None, delay_seconds: int = 0
    ) -> None: ...


class SnsPublisher:
    def __init__(self, sns: Any, topic_arn: str, sqs: Any, names: Names) -> None:
        self._sns = sns
        self._sqs = sqs
        self._names = names
        self._queue_urls: dict[str, str] = {}
        self.topic_arn = topic_arn

    async def publish(
        self, event: Event, *, queue: str | None = None, delay_seconds: int = 0
    ) -> None:
        name = f"publish {event.event_type_name()}"
        with span(name, kind=SpanKind.PRODUCER, attributes={"dripr.event_id": str(event.event_id)}):
            attributes = propagation.inject(string_attributes(event.message_attributes()))
            if queue is None:
                await self._sns.publish(
                    TopicArn=self.topic_arn,
                    Message=event.model_dump_json(),
                    MessageAttributes=attributes,
                )
                return
            await self._sqs.send_message(
                QueueUrl=await self._queue_url(queue),
                MessageBody=event.model_dump_json(),
                MessageAttributes=attributes,
                DelaySeconds=max(0, min(delay_seconds, MAX_SQS_DELAY)),
            )

    async def _queue_url(self, name: str) -> str:
        if name not in self._queue_urls:
            physical = self._names.queue(TOPOLOGY.queue(name))
            response = await self._sqs.get_queue_url(QueueName=physical)
            self._queue_urls[name] = str(response["QueueUrl"])
        return self._queue_urls[name]


def string_attributes(values: dict[str, str]) -> dict[str, dict[str, str]]:
    return {key: {"DataType": "String", "StringValue": value} for key, value in values.items()}
