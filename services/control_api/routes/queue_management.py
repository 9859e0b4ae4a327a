"""Queue management (seed 003): pipeline state, circuit breakers, and the manual resume."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from services.control_api.deps import Operator, RuntimeDep
from services.control_api.errors import OPERATOR_ERRORS
from shared.adapters.db.models import Campaign, CircuitBreakerRow, PipelineStateRow
from shared.adapters.topology import TOPOLOGY
from shared.domain.clock import UtcDatetime
from shared.domain.statuses import BreakerState, CampaignStatus, PipelineState
from shared.service_layer import audit, breakers, pausing

router = APIRouter(
    prefix="/api/v1/queue-management", tags=["queue management"], responses=OPERATOR_ERRORS
)


class BreakerOut(BaseModel):
    name: str
    state: BreakerState
    failures: int
    threshold: int
    opened_at: UtcDatetime | None
    last_error: str | None


class PausedCampaign(BaseModel):
    id: int
    name: str
    campaign_status: CampaignStatus
    paused_reason: str | None
    paused_at: UtcDatetime | None


class QueueHold(BaseModel):
    """Whether a queue's consumer takes new work, as its pause gate answers it."""

    name: str
    depends_on: list[str]
    paused: bool
    reason: str | None


class QueueManagementStatus(BaseModel):
    queue_state: PipelineState
    reason: str | None
    changed_at: UtcDatetime | None
    changed_by: str | None
    breakers: list[BreakerOut]
    queues: list[QueueHold]
    paused_campaigns: list[PausedCampaign]


class ResumeOut(BaseModel):
    queue_state: PipelineState
    campaigns_resumed: int
    sends_resumed: int


def _holds(state: PipelineStateRow, rows: list[CircuitBreakerRow]) -> list[QueueHold]:
    """The same answer as each consumer's PauseGate: the paused pipeline, else an open breaker."""
    opened = {r.name for r in rows if r.state is BreakerState.OPEN}
    holds = []
    for spec in TOPOLOGY.queues:
        depends_on = [str(d) for d in spec.depends_on]
        blocking = [name for name in depends_on if name in opened]
        if state.state is PipelineState.PAUSED:
            reason: str | None = f"pipeline paused: {state.reason}"
        elif blocking:
            reason = f"circuit breaker {blocking[0]} is open"
        else:
            reason = None
        holds.append(
            QueueHold(name=spec.name, depends_on=depends_on, paused=bool(reason), reason=reason)
        )
    return holds


def _breaker(row: CircuitBreakerRow) -> BreakerOut:
    return BreakerOut(
        name=row.name,
        state=row.state,
        failures=row.failures,
        threshold=row.threshold,
        opened_at=row.opened_at,
        last_error=row.last_error,
    )


@router.get("/status")
async def status(runtime: RuntimeDep, _: Operator) -> QueueManagementStatus:
    async with runtime.sessions() as session:
        await pausing.ensure_rows(session)
        await session.commit()
        state = await pausing.pipeline_state(session)
        if state is None:  # ensure_rows has just written it
            raise RuntimeError("the pipeline_state row is missing")
        rows = list(
            await session.scalars(select(CircuitBreakerRow).order_by(CircuitBreakerRow.name))
        )
        paused = await session.scalars(
            select(Campaign).where(Campaign.paused.is_(True)).order_by(Campaign.id)
        )
        return QueueManagementStatus(
            queue_state=state.state,
            reason=state.reason,
            changed_at=state.changed_at,
            changed_by=state.changed_by,
            breakers=[_breaker(r) for r in rows],
            queues=_holds(state, rows),
            paused_campaigns=[
                PausedCampaign(
                    id=c.id,
                    name=c.name,
                    campaign_status=c.campaign_status,
                    paused_reason=c.paused_reason,
                    paused_at=c.paused_at,
                )
                for c in paused
            ],
        )


@router.post("/resume")
async def resume(runtime: RuntimeDep, who: Operator) -> ResumeOut:
    """The only way anything resumes; refused while any circuit breaker is open."""
    async with runtime.unit_of_work() as uow:
        report = await pausing.resume(uow, by=who)  # Refused while a breaker is open
        audit.record(
            uow.session,
            who,
            "resume_pipeline",
            detail={"campaigns": report.campaigns_resumed, "sends": report.sends_resumed},
        )
        await uow.commit()
    return ResumeOut(
        queue_state=PipelineState.RUNNING,
        campaigns_resumed=report.campaigns_resumed,
        sends_resumed=report.sends_resumed,
    )


@router.get("/breakers")
async def list_breakers(runtime: RuntimeDep, _: Operator) -> list[BreakerOut]:
    return (await status(runtime, _)).breakers


class ThresholdIn(BaseModel):
    threshold: int = Field(ge=1, le=1000)


@router.patch("/breakers/{name}")
async def change_threshold(
    name: str, body: ThresholdIn, runtime: RuntimeDep, who: Operator
) -> BreakerOut:
    """Consecutive dependency errors that open this breaker, for every replica at once."""
    async with runtime.sessions() as session:
        row = await breakers.set_threshold(session, name, body.threshold)  # NotFound: 404
        audit.record(
            session, who, "breaker_threshold", detail={"breaker": name, **body.model_dump()}
        )
        await session.commit()
        return _breaker(row)


@router.post("/breakers/{name}/reset")
async def reset_breaker(name: str, runtime: RuntimeDep, who: Operator) -> BreakerOut:
    """Close the breaker. It resumes nothing: that is a separate, deliberate step."""
    async with runtime.sessions() as session:
        row = await breakers.reset(session, name)  # NotFound: 404
        audit.record(session, who, "reset_breaker", detail={"breaker": name})
        await session.commit()
        return _breaker(row)
