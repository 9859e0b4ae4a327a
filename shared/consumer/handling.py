"""One message, start to end: parse, dispatch to its handler, and carry out the outcome.

- malformed, foreign or unhandled messages, and `Reject`: dead-lettered with the reason;
- an SES event type dripr does not act on (opens, clicks): deleted;
- `Retry(delay)`: visible again after the delay;
- any other exception: visible again after an exponential backoff, until the queue's
  maxReceiveCount, when it is dead-lettered with the last error as its reason;
- an outage of the database or the AWS endpoint (outage.py): handed back, never
  dead-lettered for it, and the process's consumers hold until it is over;
- a duplicate (the event was already processed by this consumer): deleted, nothing done;
- success: deleted (in a batch, by the deleter).

Each outcome is counted (`dripr_messages_total{consumer, outcome}`) and timed
(`dripr_handler_duration_seconds`); a first delivery's wait since its outbox row was written is
the hand-off latency.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from uuid import UUID

import structlog
from opentelemetry import trace

from shared.consumer.dead_letter import DeadLetterer
from shared.consumer.deleter import BatchDeleter
from shared.consumer.envelope import parse_body
from shared.consumer.outage import Outage, noticed
from shared.consumer.outcomes import Reject, Retry
from shared.consumer.visibility import Visibility
from shared.domain.events import Event, MalformedMessage
from shared.domain.feedback import IgnoredNotification
from shared.observability import metrics
from shared.service_layer.unit_of_work import AlreadyProcessed, UnitOfWork

log = structlog.get_logger(__name__)

U = TypeVar("U", bound=UnitOfWork)
"""The unit of work handlers get: the port, or an implementation a service needs more of."""

Handler = Callable[[Any, U], Awaitable[None]]
GiveUp = Callable[[Any, U, str], Awaitable[None]]
UnitOfWorkFactory = Callable[[str, UUID], U]

_CONTEXT = ("campaign_id", "cycle", "send_id", "delivery_id", "ses_message_id")
"""Event fields bound to every log line of the message's handling."""


DEAD_LETTERED = "dead_lettered"
UNAVAILABLE = "unavailable"
OUTAGE_RELEASE_SECONDS = 5
"""A message met with an outage is visible again after this, for whichever consumer is
receiving by then: the ones that know of the outage hold until it is over."""


def _receives(message: dict[str, Any]) -> int:
    return int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))


@dataclass(frozen=True)
class Backoff:
    base_seconds: float = 2.0
    max_seconds: float = 300.0

    def delay(self, receives: int) -> float:
        return min(self.max_seconds, self.base_seconds * 2.0 ** (receives - 1))


class MessageHandling(Generic[U]):
    def __init__(
        self,
        name: str,
        handlers: Mapping[type[Event], Handler[U]],
        unit_of_work: UnitOfWorkFactory[U],
        *,
        visibility: Visibility,
        dead_letters: DeadLetterer,
        deleter: BatchDeleter,
        backoff: Backoff = Backoff(),
        on_give_up: GiveUp[U] | None = None,
        outages: Sequence[Outage] = (),
    ) -> None:
        self._outages = tuple(outages)
        self._name = name
        self._handlers = dict(handlers)
        self._unit_of_work = unit_of_work
        self._visibility = visibility
        self._dead_letters = dead_letters
        self._deleter = deleter
        self._backoff = backoff
        self._on_give_up = on_give_up
        self.max_receive_count: int | None = None
        """From the queue's redrive policy: the receive at which a failure is final."""

    async def dispatch(self, message: dict[str, Any]) -> str:
        """Handle one message to its outcome, and return the outcome's name."""
        began = time.perf_counter()
        outcome = await self._outcome(message)
        labels = {"consumer": self._name, "outcome": outcome}
        metrics.messages.add(1, labels)
        metrics.handler_duration.record(time.perf_counter() - began, labels)
        return outcome

    async def _outcome(self, message: dict[str, Any]) -> str:
        try:
            event = parse_body(message.get("Body", ""))
        except MalformedMessage as exc:
            await self._dead_letters.send(message, str(exc))
            return DEAD_LETTERED
        except IgnoredNotification as exc:
            log.info("message.ignored", notification=str(exc))
            self._deleter.delete(message["ReceiptHandle"])
            return "ignored"
        handler = self._handlers.get(type(event))
        if handler is None:
            reason = f"{self._name} has no handler for {event.event_type_name()}"
            await self._dead_letters.send(message, reason)
            return DEAD_LETTERED
        context: dict[str, Any] = {"event_id": str(event.event_id)}
        for key in _CONTEXT:
            if hasattr(event, key):
                context[key] = getattr(event, key)
        trace.get_current_span().set_attributes(
            {f"dripr.{k}": v for k, v in context.items() if v is not None}
        )
        if _receives(message) == 1:
            waited = time.time() - event.occurred_at.timestamp()
            metrics.handoff_latency.record(max(0.0, waited), {"consumer": self._name})
        with structlog.contextvars.bound_contextvars(**context):
            return await self._handle(message, event, handler)

    async def _handle(self, message: dict[str, Any], event: Event, handler: Handler[U]) -> str:
        receipt: str = message["ReceiptHandle"]
        began = time.perf_counter()
        heartbeat = asyncio.create_task(self._visibility.heartbeat(receipt))
        outcome = "handled"
        try:
            # No look for the processed marker first: every handler's first read (its step,
            # its send's batch) already tells a redelivery from new work, and the marker
            # written with the effect is what guarantees once. The look cost a statement on
            # every message for the rare duplicate (make bench).
            await handler(event, self._unit_of_work(self._name, event.event_id))
        except AlreadyProcessed:
            log.info("message.duplicate")
            outcome = "duplicate"
        except Reject as exc:
            await self._give_up(event, f"rejected: {exc}")
            await self._dead_letters.send(message, f"rejected: {exc}")
            return DEAD_LETTERED
        except Retry as exc:
            if noticed(self._outages, exc):  # a retry because the database or endpoint is away
                return await self._unavailable(receipt, exc)
            log.info("message.retry", reason=str(exc), delay=exc.delay)
            await self._visibility.release(receipt, exc.delay)
            return "retried"
        except asyncio.CancelledError:
            await asyncio.shield(self._visibility.release(receipt, 0))
            raise
        except Exception as exc:
            if noticed(self._outages, exc):
                return await self._unavailable(receipt, exc)
            return await self._failed(message, event, exc)
        finally:
            heartbeat.cancel()
        self._deleter.delete(receipt)
        log.info("message.handled", ms=round((time.perf_counter() - began) * 1000, 1))
        return outcome

    async def _unavailable(self, receipt: str, exc: BaseException) -> str:
        log.warning("message.unavailable", error=f"{type(exc).__name__}: {exc}"[:500])
        await self._visibility.release(receipt, OUTAGE_RELEASE_SECONDS)
        return UNAVAILABLE

    async def _failed(self, message: dict[str, Any], event: Event, exc: Exception) -> str:
        receives = _receives(message)
        reason = f"{type(exc).__name__}: {exc}"
        if self.max_receive_count is not None and receives >= self.max_receive_count:
            log.error("message.exhausted", receives=receives, error=reason, exc_info=exc)
            reason = f"failed {receives} times; last error {reason}"
            await self._give_up(event, reason)
            await self._dead_letters.send(message, reason)
            return DEAD_LETTERED
        delay = self._backoff.delay(receives)
        log.warning("message.failed", receives=receives, retry_in=delay, error=reason, exc_info=exc)
        await self._visibility.release(message["ReceiptHandle"], delay)
        return "failed"

    async def _give_up(self, event: Event, reason: str) -> None:
        """Let the service record the failure (e.g. its step in ERROR) before dead-lettering."""
        if self._on_give_up is None:
            return
        try:
            await self._on_give_up(event, self._unit_of_work(self._name, event.event_id), reason)
        except AlreadyProcessed:
            pass
        except Exception:
            log.exception("message.give_up_failed")
