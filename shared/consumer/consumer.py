"""The one consumer runtime every dripr service runs.

Per message: parse (raw or SNS-enveloped) → dispatch to the handler for its event type → delete
only on success. The SQS visibility timeout is the lock on the work, extended by a heartbeat
while a handler runs. Failures map onto SQS itself:

- malformed, foreign or unhandled messages, and `Reject`: copied to the DLQ with the reason in a
  `failure_reason` attribute, then deleted; nothing is lost and the loop goes on;
- `Retry(delay)`: visible again after the delay;
- any other exception: visible again after an exponential backoff, until the queue's
  maxReceiveCount, when it is dead-lettered with the last error as its reason;
- a duplicate (the event was already processed by this consumer): deleted, nothing done.

On shutdown it stops receiving, lets in-flight handlers finish within a grace period, and makes
the messages of those that did not finish visible again at once.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog

from shared.adapters.db.uow import UnitOfWork
from shared.adapters.publisher import string_attributes
from shared.adapters.retrying import with_retries
from shared.consumer.deleter import BatchDeleter
from shared.consumer.outcomes import AlreadyProcessed, Reject, Retry
from shared.domain.events import Event, MalformedMessage, parse_body

log = structlog.get_logger(__name__)

Handler = Callable[[Any, UnitOfWork], Awaitable[None]]
GiveUp = Callable[[Any, UnitOfWork, str], Awaitable[None]]
UnitOfWorkFactory = Callable[[str, UUID], UnitOfWork]

MAX_ATTRIBUTES = 10
"""SQS refuses a message with more attributes than this, so a DLQ copy keeps what fits."""
_REFUSED_BY_SQS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters SQS refuses in a message attribute value."""


@dataclass(frozen=True)
class ConsumerOptions:
    concurrency: int = 10
    wait_time_seconds: int = 20
    shutdown_grace_seconds: float = 20.0
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 300.0


class Consumer:
    """Receives from one queue and runs handlers on what arrives; see the module docstring."""

    def __init__(
        self,
        name: str,
        queue_url: str,
        sqs: Any,
        handlers: Mapping[type[Event], Handler],
        unit_of_work: UnitOfWorkFactory,
        options: ConsumerOptions = ConsumerOptions(),
        on_give_up: GiveUp | None = None,
        gate: Callable[[], Awaitable[str | None]] | None = None,
    ) -> None:
        self.name = name
        self.queue_url = queue_url
        self._sqs = sqs
        self._handlers = dict(handlers)
        self._unit_of_work = unit_of_work
        self._options = options
        self._on_give_up = on_give_up
        self._gate = gate
        self._paused_for: str | None = None
        self._visibility_timeout = 30
        self._max_receive_count: int | None = None
        self._dlq_url: str | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._deleter = BatchDeleter(sqs, queue_url)

    async def run(self, stop: asyncio.Event) -> None:
        await self._read_queue_settings()
        self._deleter.start()
        log.info("consumer.started", consumer=self.name, queue=self.queue_url)
        stopping = asyncio.create_task(stop.wait())
        batch = min(10, self._options.concurrency)
        room = (batch + 1) // 2  # receive in batches, yet never idle on one slow handler
        receiving: asyncio.Task[list[dict[str, Any]]] | None = None
        failures = 0
        while not stop.is_set():
            free = self._options.concurrency - len(self._in_flight)
            if free < room:
                await asyncio.wait({*self._in_flight, stopping}, return_when="FIRST_COMPLETED")
                continue
            held = await self._held()
            if held:
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
        await self._deleter.close()
        log.info("consumer.stopped", consumer=self.name)

    async def _held(self) -> str | None:
        """The gate's reason to take no new work (a paused pipeline, an open breaker)."""
        if self._gate is None:
            return None
        try:
            reason = await self._gate()
        except Exception as exc:  # cannot tell: keep working rather than stall on a blip
            log.warning("consumer.gate_failed", error=str(exc))
            return None
        if reason != self._paused_for:
            if reason:
                log.warning("consumer.paused", reason=reason)
            else:
                log.info("consumer.resumed")
            self._paused_for = reason
        return reason

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
        await asyncio.gather(*(self._make_visible(m["ReceiptHandle"], 0) for m in messages))

    async def _read_queue_settings(self) -> None:
        """The queue's own visibility timeout and redrive policy drive retries and heartbeats."""
        attributes = (
            await self._sqs.get_queue_attributes(
                QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout", "RedrivePolicy"]
            )
        )["Attributes"]
        self._visibility_timeout = int(attributes.get("VisibilityTimeout", 30))
        if "RedrivePolicy" in attributes:
            policy = json.loads(attributes["RedrivePolicy"])
            self._max_receive_count = int(policy["maxReceiveCount"])
            dlq_name = policy["deadLetterTargetArn"].rsplit(":", 1)[-1]
            self._dlq_url = (await self._sqs.get_queue_url(QueueName=dlq_name))["QueueUrl"]

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
        with structlog.contextvars.bound_contextvars(
            consumer=self.name, message_id=message.get("MessageId")
        ):
            try:
                await self._dispatch(message)
            except Exception:  # an SQS call failed: the visibility timeout brings it back
                log.exception("message.runtime_error")

    async def _dispatch(self, message: dict[str, Any]) -> None:
        try:
            event = parse_body(message.get("Body", ""))
        except MalformedMessage as exc:
            await self._dead_letter(message, str(exc))
            return
        handler = self._handlers.get(type(event))
        if handler is None:
            reason = f"{self.name} has no handler for {event.event_type_name()}"
            await self._dead_letter(message, reason)
            return
        context: dict[str, Any] = {"event_id": str(event.event_id)}
        for key in ("campaign_id", "cycle", "send_id"):
            if hasattr(event, key):
                context[key] = getattr(event, key)
        with structlog.contextvars.bound_contextvars(**context):
            await self._handle(message, event, handler, message["ReceiptHandle"])

    async def _handle(
        self, message: dict[str, Any], event: Event, handler: Handler, receipt: str
    ) -> None:
        began = time.perf_counter()
        heartbeat = asyncio.create_task(self._heartbeat(receipt))
        try:
            unit_of_work = self._unit_of_work(self.name, event.event_id)
            if await unit_of_work.already_processed():
                log.info("message.duplicate")
            else:
                await handler(event, unit_of_work)
        except AlreadyProcessed:
            log.info("message.duplicate", raced=True)
        except Reject as exc:
            await self._give_up(event, f"rejected: {exc}")
            await self._dead_letter(message, f"rejected: {exc}")
            return
        except Retry as exc:
            log.info("message.retry", reason=str(exc), delay=exc.delay)
            await self._make_visible(receipt, exc.delay)
            return
        except asyncio.CancelledError:
            await asyncio.shield(self._make_visible(receipt, 0))
            raise
        except Exception as exc:
            await self._failed(message, event, receipt, exc)
            return
        finally:
            heartbeat.cancel()
        self._deleter.delete(receipt)
        log.info("message.handled", ms=round((time.perf_counter() - began) * 1000, 1))

    async def _failed(
        self, message: dict[str, Any], event: Event, receipt: str, exc: Exception
    ) -> None:
        receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
        reason = f"{type(exc).__name__}: {exc}"
        if self._max_receive_count is not None and receives >= self._max_receive_count:
            log.error("message.exhausted", receives=receives, error=reason, exc_info=exc)
            reason = f"failed {receives} times; last error {reason}"
            await self._give_up(event, reason)
            await self._dead_letter(message, reason)
            return
        delay = min(
            self._options.backoff_max_seconds,
            self._options.backoff_base_seconds * 2 ** (receives - 1),
        )
        log.warning("message.failed", receives=receives, retry_in=delay, error=reason, exc_info=exc)
        await self._make_visible(receipt, delay)

    async def _give_up(self, event: Event, reason: str) -> None:
        """Let the service record the failure (e.g. its step in ERROR) before dead-lettering."""
        if self._on_give_up is None:
            return
        try:
            await self._on_give_up(event, self._unit_of_work(self.name, event.event_id), reason)
        except AlreadyProcessed:
            pass
        except Exception:
            log.exception("message.give_up_failed")

    async def _dead_letter(self, message: dict[str, Any], reason: str) -> None:
        """Copy to the DLQ with the reason, then delete; with no DLQ, leave it for redrive."""
        reason = _REFUSED_BY_SQS.sub("\ufffd", reason)  # e.g. a NUL from a JSON key
        log.error("message.dead_lettered", reason=reason, body=message.get("Body", "")[:500])
        if self._dlq_url is None:
            return
        ours = string_attributes(
            {
                "failure_reason": reason[:1000],
                "source_queue": self.queue_url.rsplit("/", 1)[-1],
                "source_message_id": message.get("MessageId", ""),
                "failed_consumer": self.name,
            }
        )
        theirs = [
            (key, value)
            for key, value in message.get("MessageAttributes", {}).items()
            if value.get("DataType", "").startswith(("String", "Number")) and key not in ours
        ]
        attributes = dict(theirs[: MAX_ATTRIBUTES - len(ours)]) | ours
        await with_retries(
            self._sqs.send_message,
            QueueUrl=self._dlq_url,
            MessageBody=message.get("Body") or "(empty)",
            MessageAttributes=attributes,
        )
        await with_retries(
            self._sqs.delete_message,
            QueueUrl=self.queue_url,
            ReceiptHandle=message["ReceiptHandle"],
        )

    async def _heartbeat(self, receipt: str) -> None:
        """Keep a long handler's message invisible: extend the timeout each third of it."""
        interval = max(1.0, self._visibility_timeout / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await self._sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=receipt,
                    VisibilityTimeout=self._visibility_timeout,
                )
            except Exception as exc:
                log.warning("message.heartbeat_failed", error=str(exc))

    async def _make_visible(self, receipt: str, delay: float) -> None:
        try:
            await with_retries(
                self._sqs.change_message_visibility,
                QueueUrl=self.queue_url,
                ReceiptHandle=receipt,
                # Rounded up: int(0.4) would make a "not yet" message visible at once, and each
                # early receive counts towards maxReceiveCount.
                VisibilityTimeout=math.ceil(max(0, min(delay, 43_200))),
            )
        except Exception as exc:  # it will become visible when its timeout runs out anyway
            log.warning("message.release_failed", error=str(exc))

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
