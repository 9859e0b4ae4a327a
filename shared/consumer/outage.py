"""A dependency every handler needs is unreachable: hold the process's consumers until it answers.

When the database server is down, every message fails the same way. Retrying each one would
count its receives towards the DLQ for a fault that is not the message's, and hammer the server
as it comes back. So the first handler to meet the outage hands its message back and marks the
outage; every consumer of the process then stops receiving, and one probe at a time asks the
dependency, one second apart and doubling to five, until it answers; then they all carry on.
Messages wait in SQS meanwhile, and events already committed wait in the outbox.

The AWS endpoint is watched the same way, so that a provider call failing only because nothing
can be reached (SES, through the same endpoint) is not counted by a circuit breaker
(`confirms`), while one failing with the endpoint up is.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

import structlog

from shared.domain.errors import Unavailable, causes

log = structlog.get_logger(__name__)

Probe = Callable[[], Awaitable[object]]
"""Raises unless the dependency answers: a `SELECT 1`, a cheap queue call."""


class Outage:
    """One dependency's reachability as this process last saw it; shared by its consumers."""

    def __init__(
        self,
        dependency: str,
        probe: Probe,
        caused_by: Callable[[BaseException], bool],
        *,
        first_wait: float = 1.0,
        max_wait: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.dependency = dependency
        self._probe = probe
        self._caused_by = caused_by
        self._first_wait = first_wait
        self._max_wait = max_wait
        self._clock = clock
        self._wait = first_wait
        self._next_probe = 0.0
        self._lock = asyncio.Lock()
        self.down_since: float | None = None

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def caused(self, exc: BaseException) -> bool:
        """Whether `exc`, or anything it was raised from, is this dependency being unreachable."""
        return any(
            (isinstance(cause, Unavailable) and cause.dependency == self.dependency)
            or self._caused_by(cause)
            for cause in causes(exc)
        )

    def noticed(self, exc: BaseException) -> bool:
        """Mark the outage if `exc` is one; whether it was."""
        if not self.caused(exc):
            return False
        if self.down_since is None:
            self.down_since = self._clock()
            self._wait = self._first_wait
            self._next_probe = self.down_since + self._wait
            log.warning(
                "dependency.unreachable",
                dependency=self.dependency,
                error=f"{type(exc).__name__}: {exc}"[:500],
            )
        return True

    async def held(self) -> str | None:
        """While down: the reason to take no work, probing when due; None once it answers."""
        if self.down_since is None:
            return None
        async with self._lock:  # one probe at a time, whatever the number of consumers
            if self.down_since is None:
                return None
            if self._clock() >= self._next_probe:
                try:
                    await self._probe()
                except Exception:
                    self._wait = min(self._max_wait, self._wait * 2)
                    self._next_probe = self._clock() + self._wait
                else:
                    log.info(
                        "dependency.reachable",
                        dependency=self.dependency,
                        down_seconds=round(self._clock() - self.down_since, 1),
                    )
                    self.down_since = None
                    return None
            return f"{self.dependency} unreachable for {self._clock() - self.down_since:.0f}s"

    async def confirms(self, exc: BaseException) -> bool:
        """Whether `exc` is this outage, asking the dependency now if it was thought up.

        For a circuit breaker: SES failing to connect while SQS answers is SES's failure and
        counts; both failing is the endpoint (or this task's network), which no breaker opens on.
        """
        if not self.caused(exc):
            return False
        if self.down:
            return True
        try:
            await self._probe()
        except Exception:
            self.noticed(exc)
            return True
        return False


def noticed(outages: Sequence[Outage], exc: BaseException) -> Outage | None:
    """The outage `exc` is, now marked, if it is one of them."""
    return next((outage for outage in outages if outage.noticed(exc)), None)
