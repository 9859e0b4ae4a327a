"""The one consumer runtime every dripr service runs: the receive loop.

Receive in batches from one queue while there is room, hand each message to `MessageHandling`
(parse, dispatch, outcome: handling.py), and delete successes in batches (deleter.py). The SQS
visibility timeout is the lock on the work, extended by a heartbeat while a handler runs
(visibility.py); what can never succeed goes to the DLQ with its reason (dead_letter.py).

Before each receive it asks its gate whether to take new work (a paused pipeline, an open
breaker), and holds while a dependency every handler needs is unreachable (outage.py). On
shutdown it stops receiving, lets in-flight handlers finish within a grace period, and makes
the messages of those that did not finish visible again at once.

Each message is handled inside a span that continues the trace its attributes carry (and links
to the publish that sent it), and every turn of the loop beats the process's liveness.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic

import structlog
from opentelemetry.trace import Link, SpanKind, StatusCode, get_current_span

from shared.consumer.dead_letter import DeadLetterer
from shared.consumer.deleter import BatchDeleter
from shared.consumer.handling import (
    DEAD_LETTERED,
    Backoff,
    GiveUp,
    Handler,
    MessageHandling,
    U,
    UnitOfWorkFactory,
)
from shared.consumer.outage import Outage, noticed
from shared.consumer.visibility import Visibility
from shared.domain.events import Event
from shared.observability import propagation
from shared.observability.liveness import Heartbeats
from shared.observability.tracing import span

log = structlog.get_logger(__name__)

BUSY_BEAT_SECONDS = 5.0
"""How often a loop with every handler slot busy still beats its liveness."""

Gate = Callable[[], Awaitable[str | None]]
"""Returns a reason to take no new work, or None."""


@dataclass(frozen=True)
class ConsumerOptions:
    concurrency: int = 10
    wait_time_seconds: int = 20
    shutdown_grace_seconds: float = 20.0
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 300.0


class Consumer(Generic[U]):
    """Receives from one queue and runs handlers on what arrives; see the module docstring."""

    def __init__(
        self,
        name: str,
        queue_url: str,
        sqs: Any,
        handlers: Mapping[type[Event], Handler[U]],
        unit_of_work: UnitOfWorkFactory[U],
        options: ConsumerOptions = ConsumerOptions(),
        on_give_up: GiveUp[U] | None = None,
        gate: Gate | None = None,
        heartbeats: Heartbeats | None = None,
        outages: Sequence[Outage] = (),
    ) -> None:
        self.name = name
        self._outages = tuple(outages)
        self.queue_url = queue_url
        self._sqs = sqs
        self._options = options
        self._gate = gate
        self._heartbeats = heartbeats or Heartbeats()
        self._queue_name = queue_url.rsplit("/", 1)[-1]
        self._paused_for: str | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self.visibility = Visibility(sqs, queue_url)
        self.dead_letters = DeadLetterer(sqs, name, queue_url)
        self.deleter = BatchDeleter(sqs, queue_url)
        self.handling = MessageHandling(
            name,
            handlers,
            unit_of_work,
            visibility=self.visibility,
            dead_letters=self.dead_letters,
            deleter=self.deleter,
            backoff=Backoff(options.backoff_base_seconds, options.backoff_max_seconds),
            on_give_up=on_give_up,
            outages=self._outages,
        )

    async def prepare(self) -> None:
        """Read the queue's own visibility timeout and redrive policy, which drive retries,
        heartbeats and dead-lettering."""
        attributes = (
            await self._sqs.get_queue_attributes(
                QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout", "RedrivePolicy"]
            )
        )["Attributes"]
        self.visibility.timeout = int(attributes.get("VisibilityTimeout", 30))
        if "RedrivePolicy" in attributes:
            policy = json.loads(attributes["RedrivePolicy"])
            self.handling.max_receive_count = int(policy["maxReceiveCount"])
            dlq_name = policy["deadLetterTargetArn"].rsplit(":", 1)[-1]
            self.dead_letters.dlq_url = (await self._sqs.get_queue_url(QueueName=dlq_name))[
                "QueueUrl"
            ]

    async def run(self, stop: asyncio.Event) -> None:
        await self.prepare()
        self.deleter.start()
        log.info("consumer.started", consumer=self.name, queue=self.queue_url)
        stopping = asyncio.create_task(stop.wait())
        batch = min(10, self._options.concurrency)
        room = (batch + 1) // 2  # receive in batches, yet never idle on one slow handler
        receiving: asyncio.Task[list[dict[str, Any]]] | None = None
        failures = 0
        while not stop.is_set():
            self._heartbeats.beat(self.name)
            free = self._options.concurrency - len(self._in_flight)
            if free < room:  # the timeout keeps the loop beating while every slot is busy
                await asyncio.wait(
                    {*self._in_flight, stopping},
                    timeout=BUSY_BEAT_SECONDS,
                    return_when="FIRST_COMPLETED",
                )
                continue
            if await self._held():
                await asyncio.wait({stopping}, timeout=1.0)  # messages wait in SQS meanwhile
                continue
            receiving = asyncio.create_task(self._receive(min(free, batch)))
            await asyncio.wait({receiving, stopping}, return_when="FIRST_COMPLETED")
            if not receiving.done():
                break
            received, receiving = receiving, None
            try:
                messages = received.result()
            except Exception as exc:  # the endpoint is down or throttling: back off, keep going
                if noticed(self._outages, exc):
                    continue  # held below until the endpoint answers a probe
                failures += 1
                delay = min(30.0, 0.5 * 2**failures)
                log.warning("consumer.receive_failed", error=str(exc), retry_in=delay)
                await asyncio.wait({stopping}, timeout=delay)
                continue
            failures = 0
            for message in messages:
                task = asyncio.create_task(self._process(message))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
        stopping.cancel()
        await asyncio.gather(self._release_late_receive(receiving), self._drain())
        await self.deleter.close()
        self._heartbeats.stopped(self.name)
        log.info("consumer.stopped", consumer=self.name)

    async def _held(self) -> str | None:
        """Why to take no new work: an outage, a paused pipeline, an open breaker; or None."""
        reason: str | None = None
        for outage in self._outages:
            reason = reason or await outage.held()
        if reason is None and self._gate is not None:
            try:
                reason = await self._gate()
            except Exception as exc:  # an outage holds; else keep working rather than stall
                down = noticed(self._outages, exc)
                if down is None:
                    log.warning("consumer.gate_failed", error=str(exc))
                    return None
                reason = f"{down.dependency} unreachable"
        if reason != self._paused_for:
            if reason:
                log.warning("consumer.paused", reason=reason)
            else:
                log.info("consumer.resumed")
            self._paused_for = reason
        return reason

    async def _receive(self, count: int) -> list[dict[str, Any]]:
        response = await self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=self._options.wait_time_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    async def _process(self, message: dict[str, Any]) -> None:
        sent_by = propagation.extract(message.get("MessageAttributes"))
        links = [Link(get_current_span(sent_by).get_span_context())] if sent_by else None
        attributes = {
            "messaging.system": "aws_sqs",
            "messaging.operation.type": "process",
            "messaging.destination.name": self._queue_name,
            "messaging.message.id": message.get("MessageId", ""),
        }
        with (
            span(
                f"{self.name} process",
                kind=SpanKind.CONSUMER,
                parent=sent_by,
                links=links,
                attributes=attributes,
            ) as current,
            structlog.contextvars.bound_contextvars(
                consumer=self.name, message_id=message.get("MessageId")
            ),
        ):
            try:
                outcome = await self.handling.dispatch(message)
                current.set_attribute("dripr.outcome", outcome)
                if outcome in ("failed", DEAD_LETTERED):
                    current.set_status(StatusCode.ERROR, outcome)
            except Exception:  # an SQS call failed: the visibility timeout brings it back
                log.exception("message.runtime_error")

    async def _release_late_receive(self, receiving: asyncio.Task[Any] | None) -> None:
        """A long poll cut short on the client can still take messages on the server side.

        So it is not cancelled: it is allowed to return, and whatever it took is handed back.
        """
        if receiving is None or (receiving.done() and receiving.exception() is not None):
            return
        try:
            messages = await receiving
        except Exception:
            return
        await asyncio.gather(*(self.visibility.release(m["ReceiptHandle"], 0) for m in messages))

    async def _drain(self) -> None:
        if not self._in_flight:
            return
        log.info("consumer.draining", in_flight=len(self._in_flight))
        _done, pending = await asyncio.wait(
            self._in_flight, timeout=self._options.shutdown_grace_seconds
        )
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if pending:
            log.warning("consumer.released_unfinished", count=len(pending))


async def run_consumers(consumers: Sequence[Consumer[Any]], stop: asyncio.Event) -> None:
    """Run several consumers in one process; if one dies the others stop too, loudly."""
    async with asyncio.TaskGroup() as group:
        for consumer in consumers:
            group.create_task(consumer.run(stop))
