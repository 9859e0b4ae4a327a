"""One sending rate for the whole account, shared by every sender replica and every send.

SES limits the account (MaxSendRate), not a send or a process. Before each email a sender takes
the account's next slot from a row of `rate_limits` with one compare-and-set: if `next_at` has
come, it moves to now + one interval (1 / rate) and the email goes at once; if not, the sender
sleeps until then and tries again. The slot is taken at the moment of sending, from the
sender's own clock, so a sender that wakes late pushes the next slot back rather than bunching
up with one on time; and an idle limiter saves no slots up for a burst.

The slots are paced at `headroom` (0.9 by default) of the rate: SES counts a request when it
arrives, which is the slot plus a varying delay (the commit, the network). Throttling from SES
(`slow_down`) pushes the next slot out for everyone. Clocks are the processes' wall clocks (NTP
keeps hosts within milliseconds; the interval is tens of them).
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
        headroom: float = 1.0,
    ) -> None:
        self._sessions = sessions
        self._name = name
        self._row_exists = False
        self._headroom = headroom
        self.per_second = per_second
        """None: no limit. Changed in place when the quota is read again."""

    async def acquire(self) -> float:
        """Wait until this process may send one email; return how long it waited (seconds)."""
        if not self.per_second:
            return 0.0
        interval = 1.0 / (self.per_second * self._headroom)
        waited = 0.0
        while True:
            now = time.time()
            next_at = await self._take(now, interval)
            if next_at is None:
                return waited
            pause = min(max(next_at - now, 0.001), 5.0)
            await asyncio.sleep(pause)
            waited += pause

    async def slow_down(self, seconds: float = 1.0) -> None:
        """SES said slow down: nobody sends for `seconds` from now."""
        if not self._row_exists:
            await self._ensure_row()
        until = time.time() + seconds
        row = RateLimitRow.__table__.c
        async with self._sessions() as session:
            await session.execute(
                update(RateLimitRow)
                .where(row.name == self._name)
                .values(next_at=case((row.next_at > until, row.next_at), else_=until))
            )
            await session.commit()
        log.warning("rate_limit.throttled", limiter=self._name, pause=seconds)

    async def _take(self, now: float, interval: float) -> float | None:
        """Take the slot if it is free at `now` (a compare-and-set: next_at <= now moves to
        now + interval); else return when it frees up."""
        if not self._row_exists:
            await self._ensure_row()
        row = RateLimitRow.__table__.c
        async with self._sessions() as session:
            taken = await session.execute(
                update(RateLimitRow)
                .where(row.name == self._name, row.next_at <= now)
                .values(next_at=now + interval, per_second=self.per_second)
            )
            if affected(taken) == 1:
                await session.commit()
                return None
            # A locking read: it sees the slot the winner just committed, where MySQL's plain
            # read could answer from an older snapshot (seen: 0.0 for four of six replicas).
            next_at = await session.scalar(
                select(row.next_at).where(row.name == self._name).with_for_update()
            )
            await session.commit()
        return float(next_at if next_at is not None else now)

    async def _ensure_row(self) -> None:
        """The row, made once, in a transaction of its own: an INSERT after an UPDATE that
        found nothing would hold a gap lock, and two senders starting at once deadlocked."""
        async with self._sessions() as session:
            await session.execute(
                insert(RateLimitRow)
                .values(name=self._name, next_at=0.0)
                .prefix_with("IGNORE", dialect="mysql")
                .prefix_with("OR IGNORE", dialect="sqlite")
            )
            await session.commit()
        self._row_exists = True
