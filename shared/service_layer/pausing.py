"""Pausing and resuming the pipeline (seed 003): automatic pause, manual-only resume.

When a circuit breaker opens, in the same transaction: the pipeline's state becomes PAUSED with
the reason (so every consumer stops receiving; messages wait in SQS), campaigns in flight are
marked paused with that reason, and running sends are paused. Nothing resumes by itself:
`resume()` is an operator's action, refused while any breaker is open, and it resumes queues,
then campaigns, then sends, which continue where they stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog
from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.adapters.db.models import Campaign, CircuitBreakerRow, PipelineStateRow, Send
from shared.adapters.db.rows import affected
from shared.adapters.db.uow import SqlUnitOfWork
from shared.domain.clock import utcnow_naive
from shared.domain.dependencies import BREAKERS
from shared.domain.errors import Refused
from shared.domain.statuses import IN_PROGRESS, BreakerState, PipelineState, SendStatus
from shared.service_layer.sends import restart_chain

log = structlog.get_logger(__name__)

PIPELINE_PAUSE = "pipeline paused: "


class CannotResume(Refused):
    """A resume asked for while a breaker is still open."""


@dataclass(frozen=True)
class ResumeReport:
    campaigns_resumed: int
    sends_resumed: int


async def ensure_rows(session: AsyncSession) -> None:
    """The breaker rows and the pipeline switch, if a fresh database lacks them."""
    for name in BREAKERS:
        await session.execute(
            insert(CircuitBreakerRow)
            .values(
                name=name,
                state=BreakerState.CLOSED,
                failures=0,
                threshold=5,
                updated_at=utcnow_naive(),
            )
            .prefix_with("IGNORE", dialect="mysql")
            .prefix_with("OR IGNORE", dialect="sqlite")
        )
    await session.execute(
        insert(PipelineStateRow)
        .values(id=1, state=PipelineState.RUNNING, changed_at=utcnow_naive())
        .prefix_with("IGNORE", dialect="mysql")
        .prefix_with("OR IGNORE", dialect="sqlite")
    )


async def pipeline_state(session: AsyncSession) -> PipelineStateRow | None:
    return await session.get(PipelineStateRow, 1, populate_existing=True)


async def pause(session: AsyncSession, reason: str, by: str) -> None:
    """Pause everything in the caller's transaction; see the module docstring."""
    switch = (
        update(PipelineStateRow)
        .where(PipelineStateRow.id == 1)
        .values(state=PipelineState.PAUSED, reason=reason, changed_at=utcnow_naive(), changed_by=by)
    )
    if affected(await session.execute(switch)) == 0:  # see CircuitBreaker.failed: no lock first
        await ensure_rows(session)
        await session.execute(switch)
    campaigns = await session.execute(
        update(Campaign)
        .where(Campaign.campaign_status.in_(IN_PROGRESS), Campaign.paused.is_(False))
        .values(paused=True, paused_reason=reason, paused_at=utcnow_naive())
        .execution_options(synchronize_session=False)
    )
    sends = await session.execute(
        update(Send)
        .where(Send.status == SendStatus.RUNNING)
        .values(status=SendStatus.PAUSED, status_reason=PIPELINE_PAUSE + reason)
        .execution_options(synchronize_session=False)
    )
    log.warning(
        "pipeline.paused",
        reason=reason,
        campaigns=affected(campaigns),
        sends=affected(sends),
    )


async def resume(uow: SqlUnitOfWork, by: str) -> ResumeReport:
    """Queues, then campaigns, then sends; refused while any breaker is open."""
    session = uow.session
    await ensure_rows(session)
    open_breakers = list(
        await session.scalars(
            select(CircuitBreakerRow.name)
            .where(CircuitBreakerRow.state == BreakerState.OPEN)
            .order_by(CircuitBreakerRow.name)
        )
    )
    if open_breakers:
        raise CannotResume(f"Cannot resume: circuit breaker {open_breakers[0]} is open")
    await session.execute(
        update(PipelineStateRow)
        .where(PipelineStateRow.id == 1)
        .values(state=PipelineState.RUNNING, reason=None, changed_at=utcnow_naive(), changed_by=by)
    )
    campaigns = await session.execute(
        update(Campaign)
        .where(Campaign.paused.is_(True))
        .values(paused=False, paused_reason=None, paused_at=None)
        .execution_options(synchronize_session=False)
    )
    paused_sends = list(
        await session.scalars(
            select(Send).where(
                Send.status == SendStatus.PAUSED, Send.status_reason.startswith(PIPELINE_PAUSE)
            )
        )
    )
    for send in paused_sends:  # an operator's own pause stays until the operator resumes it
        send.status, send.status_reason = SendStatus.RUNNING, None
        restart_chain(uow, send)
    report = ResumeReport(affected(campaigns), len(paused_sends))
    log.info(
        "pipeline.resumed", by=by, campaigns=report.campaigns_resumed, sends=report.sends_resumed
    )
    return report


class PauseGate:
    """What a consumer asks before each receive: is there a reason to take no new work?

    Paused pipeline, or an open breaker this consumer depends on. The answer is cached for
    `ttl` seconds, so a pause reaches every consumer within a few seconds, well inside one
    visibility timeout, at the cost of one small query per consumer per `ttl`.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        depends_on: tuple[str, ...],
        ttl: float = 2.0,
    ) -> None:
        self._sessions = sessions
        self._depends_on = depends_on
        self._ttl = ttl
        self._checked = 0.0
        self._reason: str | None = None

    def forget(self) -> None:
        """Ask afresh next time: this process has just changed the answer."""
        self._checked = 0.0

    async def held(self) -> str | None:
        if time.monotonic() - self._checked < self._ttl:
            return self._reason
        # One statement for both: the pipeline's row, joined to this consumer's open breakers
        # (a row per open one; none at all on a fresh database, which is running).
        query = (
            select(PipelineStateRow.state, PipelineStateRow.reason, CircuitBreakerRow.name)
            .outerjoin(
                CircuitBreakerRow,
                and_(
                    CircuitBreakerRow.name.in_(self._depends_on),
                    CircuitBreakerRow.state == BreakerState.OPEN,
                ),
            )
            .where(PipelineStateRow.id == 1)
            .order_by(CircuitBreakerRow.name)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        opened = [row.name for row in rows if row.name is not None]
        if rows and rows[0].state is PipelineState.PAUSED:
            self._reason = f"pipeline paused: {rows[0].reason}"
        elif opened:
            self._reason = f"circuit breaker {opened[0]} is open"
        else:
            self._reason = None
        self._checked = time.monotonic()
        return self._reason
