"""Circuit breakers on the three third-party dependencies, with their state in the database.

Only `TransientError`s count: the dependency being unwell (timeouts, 5xx). A `PermanentError`
is bad input and never opens a breaker, and `Throttled` (slow down) is backpressure: it neither
counts nor clears the count. At `threshold` consecutive failures the
breaker opens, and in the same transaction the pipeline is paused (pausing.py). An open
breaker stays open until an operator resets it; resetting resumes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import structlog
from opentelemetry.trace import SpanKind
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.adapters.db.models import CircuitBreakerRow
from shared.adapters.db.rows import affected
from shared.consumer.outcomes import Retry
from shared.domain.clock import utcnow_naive
from shared.domain.dependencies import BREAKERS
from shared.domain.errors import NotFound, Throttled, TransientError, Unavailable
from shared.domain.statuses import BreakerState
from shared.observability import metrics
from shared.observability.tracing import span
from shared.service_layer import pausing

log = structlog.get_logger(__name__)


class Outage(Protocol):
    """The consumer runtime's watch on a dependency every handler needs (consumer/outage.py)."""

    dependency: str

    async def confirms(self, exc: BaseException) -> bool: ...


class CircuitBreaker:
    """`ignore`: error texts that do not count (e.g. "Throttling", if throttling is expected).

    `outages`: the process's watch on the database and the AWS endpoint. A failure that is one
    of them (SES unreachable because nothing is) is raised as `Unavailable` and not counted: the
    consumer holds until it is over, and no breaker opens for a dependency that is not to blame.
    """

    def __init__(
        self,
        name: str,
        sessions: async_sessionmaker[AsyncSession],
        ignore: tuple[str, ...] = (),
        outages: Sequence[Outage] = (),
        reads: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self.name = name
        self._outages = tuple(outages)
        self._sessions = sessions
        self._reads = reads or sessions
        """Where the state and the count are looked at, outside a transaction."""
        self._ignore = tuple(text.lower() for text in ignore if text)
        self._gate = pausing.PauseGate(self._reads, (name,), ttl=1.0)
        self._ttl = 1.0
        self._count_read_at = -self._ttl
        self._count_above_zero = True

    async def call(self, fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        if await self._gate.held() and await self.is_open():
            raise Retry(f"circuit breaker {self.name} is open", delay=60)
        try:
            result = await fn(*args, **kwargs)
        except Throttled:
            raise
        except TransientError as exc:
            for outage in self._outages:
                if await outage.confirms(exc):
                    raise Unavailable(outage.dependency, str(exc)) from exc
            if not any(text in str(exc).lower() for text in self._ignore):
                await self.failed(str(exc))
            raise
        await self.succeeded()
        return result

    async def is_open(self) -> bool:
        async with self._reads() as session:
            state = await session.scalar(
                select(CircuitBreakerRow.state).where(CircuitBreakerRow.name == self.name)
            )
        return state is BreakerState.OPEN

    async def failed(self, error: str) -> None:
        count = (
            update(CircuitBreakerRow)
            .where(CircuitBreakerRow.name == self.name)
            .values(failures=CircuitBreakerRow.failures + 1, last_error=error[:2000])
        )
        async with self._sessions() as session:
            # The UPDATE first: INSERT IGNORE of an existing row takes a shared lock, so two
            # replicas counting at once that both ensured the rows first deadlocked (the chaos
            # run's SES outage), and each count was rolled back. The rows are made only when
            # a fresh database has none.
            if affected(await session.execute(count)) == 0:
                await pausing.ensure_rows(session)
                await session.execute(count)
            opened = await session.execute(
                update(CircuitBreakerRow)
                .where(
                    CircuitBreakerRow.name == self.name,
                    CircuitBreakerRow.state == BreakerState.CLOSED,
                    CircuitBreakerRow.failures >= CircuitBreakerRow.threshold,
                )
                .values(state=BreakerState.OPEN, opened_at=utcnow_naive())
            )
            if affected(opened) == 1:
                log.error("breaker.opened", breaker=self.name, error=error)
                metrics.breaker_transitions.add(1, {"breaker": self.name, "state": "open"})
                reason = f"circuit breaker {self.name} opened: {error}"[:1000]
                await pausing.pause(session, reason, by=f"breaker:{self.name}")
            await session.commit()
        self._gate.forget()
        self._count_above_zero = True

    async def succeeded(self) -> None:
        """Clear the count, but only when it may be above zero.

        Writing on every success cost a transaction per provider call (the chaos profile: 11% of
        the data fetcher's time). The count is read at most once a second, and this process's
        own failures mark it at once; so a success clears another replica's failures within a
        second of them, which keeps "consecutive" honest for an outage, not for a flicker.
        """
        if not await self._may_have_failures():
            return
        async with self._sessions() as session:
            await session.execute(
                update(CircuitBreakerRow)
                .where(
                    CircuitBreakerRow.name == self.name,
                    CircuitBreakerRow.state == BreakerState.CLOSED,
                    CircuitBreakerRow.failures > 0,
                )
                .values(failures=0)
            )
            await session.commit()
        self._count_above_zero = False
        self._count_read_at = time.monotonic()

    async def _may_have_failures(self) -> bool:
        if time.monotonic() - self._count_read_at >= self._ttl:
            async with self._reads() as session:
                failures = await session.scalar(
                    select(CircuitBreakerRow.failures).where(CircuitBreakerRow.name == self.name)
                )
            self._count_above_zero = bool(failures)
            self._count_read_at = time.monotonic()
        return self._count_above_zero


class Guarded:
    """An adapter whose every async method goes through a breaker, each call a client span."""

    def __init__(self, adapter: Any, breaker: CircuitBreaker) -> None:
        self._adapter = adapter
        self._breaker = breaker

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._adapter, name)
        if not callable(attribute) or name.startswith("_") or name == "aclose":
            return attribute

        async def guarded(*args: Any, **kwargs: Any) -> Any:
            with span(f"{self._breaker.name} {name}", kind=SpanKind.CLIENT):
                return await self._breaker.call(attribute, *args, **kwargs)

        return guarded


async def reset(session: AsyncSession, name: str) -> CircuitBreakerRow:
    """Close the breaker and clear its count. Resumes nothing: that is the operator's resume."""
    await pausing.ensure_rows(session)
    breaker = await session.get(CircuitBreakerRow, name, populate_existing=True)
    if breaker is None:
        raise NotFound(f"no circuit breaker {name!r}; known: {', '.join(BREAKERS)}")
    if breaker.state is BreakerState.OPEN:
        metrics.breaker_transitions.add(1, {"breaker": name, "state": "closed"})
    breaker.state, breaker.failures, breaker.opened_at = BreakerState.CLOSED, 0, None
    return breaker


async def set_threshold(session: AsyncSession, name: str, threshold: int) -> CircuitBreakerRow:
    await pausing.ensure_rows(session)
    breaker = await session.get(CircuitBreakerRow, name, populate_existing=True)
    if breaker is None:
        raise NotFound(f"no circuit breaker {name!r}; known: {', '.join(BREAKERS)}")
    breaker.threshold = threshold
    return breaker
