"""Dashboard sign-ins held on the server, and the brake on guessing the operator token.

A signed cookie alone cannot be taken back: a copy made before sign-out kept working until it
expired. So each sign-in is a row (keyed by a hash of a random session id the cookie carries),
checked on every request and ended by sign-out, for every copy of the cookie at once.

Failed sign-ins are counted per client address and overall over a window; past either limit
the form answers 429 with when to try again. A correct token is not counted.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.adapters.db.models import OperatorSession, SignInAttempt
from shared.domain.clock import utcnow_naive


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def start(sessions: async_sessionmaker[AsyncSession], operator: str) -> str:
    """A new signed-in session; returns its id, for the cookie."""
    session_id = secrets.token_urlsafe(32)
    async with sessions() as session:
        session.add(OperatorSession(id_hash=_hash(session_id), operator=operator))
        await session.commit()
    return session_id


async def is_live(
    sessions: async_sessionmaker[AsyncSession], session_id: str, max_age: timedelta
) -> bool:
    async with sessions() as session:
        row = await session.get(OperatorSession, _hash(session_id))
    return row is not None and row.ended_at is None and utcnow_naive() - row.created_at <= max_age


async def end(sessions: async_sessionmaker[AsyncSession], session_id: str) -> None:
    async with sessions() as session:
        await session.execute(
            update(OperatorSession)
            .where(OperatorSession.id_hash == _hash(session_id), OperatorSession.ended_at.is_(None))
            .values(ended_at=utcnow_naive())
        )
        await session.commit()


@dataclass(frozen=True)
class SignInLimits:
    per_address: int = 5
    overall: int = 50
    window: timedelta = timedelta(minutes=5)


async def wait_before_trying(
    sessions: async_sessionmaker[AsyncSession], address: str, limits: SignInLimits
) -> int:
    """Seconds this address must wait before another sign-in attempt; 0: it may try now."""
    since = utcnow_naive() - limits.window
    async with sessions() as session:
        mine = (
            await session.execute(
                select(func.count(), func.min(SignInAttempt.at)).where(
                    SignInAttempt.address == address, SignInAttempt.at > since
                )
            )
        ).one()
        everyone = (
            await session.execute(
                select(func.count(), func.min(SignInAttempt.at)).where(SignInAttempt.at > since)
            )
        ).one()
    waits = [
        (oldest + limits.window - utcnow_naive()).total_seconds()
        for (count, oldest), limit in ((mine, limits.per_address), (everyone, limits.overall))
        if count >= limit and oldest is not None
    ]
    return max(1, math.ceil(max(waits))) if waits else 0


async def failed(
    sessions: async_sessionmaker[AsyncSession], address: str, limits: SignInLimits
) -> None:
    """Count a failed attempt; forget those older than the window."""
    async with sessions() as session:
        session.add(SignInAttempt(address=address[:64]))
        await session.execute(
            delete(SignInAttempt).where(SignInAttempt.at < utcnow_naive() - limits.window)
        )
        await session.commit()
