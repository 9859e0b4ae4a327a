"""One sending rate for the whole account, shared by every sender replica and every send.

SES limits the account (MaxSendRate), not a send or a process. Each email first reserves the
next free slot in a row of `rate_limits`: one short transaction moves `next_at` on by one
interval (1 / rate) from whichever is later, `next_at` or now, and the email waits until its
slot. The row lock orders every replica's reservations, so the slots are one interval apart
whoever takes them, and a burst cannot build up: an idle limiter's next slot is now.

Throttling from SES (`slow_down`) pushes the next slot out for everyone. Clocks are the
processes' own wall clocks (NTP keeps hosts within milliseconds; the interval is tens of ms).
"""

from __future__ import annotations

import asyncio
import time

import structlog
from sqlalchemy import case, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.adapters.db.models import RateLimitRow
from shared.adapters.db.rows import affected

log = structlog.get_logger(__name__)

SES_SENDING = "ses-sending"


class SharedRateLimiter:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        per_second: float | None,
        name: str = SES_SENDING,
    ) -> None:
        self._sessions = sessions
        self._name = name
        self.per_second = per_second
        """None: no limit. Changed in place when the quota is read again."""

    async def acquire(self) -> float:
        """Wait for this process's next slot; return how long it waited (seconds)."""
        if not self.per_second:
            return 0.0
        interval = 1.0 / self.per_second
        slot = await self._reserve(interval, time.time()) - interval
        wait = slot - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        return max(wait, 0.0)

    async def slow_down(self, seconds: float = 1.0) -> None:
        """SES said slow down: nobody sends for `seconds` from now."""
        await self._reserve(seconds, time.time())
        log.warning("rate_limit.throttled", limiter=self._name, pause=seconds)

    async def _reserve(self, interval: float, now: float) -> float:
        """Move `next_at` on by `interval` from max(next_at, now); return the new value."""
        row = RateLimitRow.__table__.c
        move = (
            update(RateLimitRow)
            .where(row.name == self._name)
            .values(
                next_at=case((row.next_at > now, row.next_at), else_=now) + interval,
                per_second=self.per_second,
            )
        )
        async with self._sessions() as session:
            # UPDATE first: it takes the row's lock (SQLite: the write lock) before the read.
            if affected(await session.execute(move)) == 0:
                await session.execute(
                    insert(RateLimitRow)
                    .values(name=self._name, next_at=0.0)
                    .prefix_with("IGNORE", dialect="mysql")
                    .prefix_with("OR IGNORE", dialect="sqlite")
                )
                await session.execute(move)
            next_at = await session.scalar(
                select(RateLimitRow.next_at).where(RateLimitRow.name == self._name)
            )
            await session.commit()
        return float(next_at or now + interval)
