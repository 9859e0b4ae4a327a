"""The pause gate every consumer asks before a receive: one statement through the reader,
answering for the pipeline switch and the consumer's own breakers together."""

from __future__ import annotations

from sqlalchemy import delete, update

from shared.adapters.db.models import CircuitBreakerRow, PipelineStateRow
from shared.bootstrap import Runtime
from shared.domain.statuses import BreakerState, PipelineState
from shared.service_layer.pausing import PauseGate, ensure_rows, pause


async def _set_breaker(runtime: Runtime, name: str, state: BreakerState) -> None:
    async with runtime.sessions() as session:
        await ensure_rows(session)
        await session.execute(
            update(CircuitBreakerRow).where(CircuitBreakerRow.name == name).values(state=state)
        )
        await session.commit()


async def test_the_gate_answers_for_the_switch_and_only_its_own_breakers(runtime: Runtime) -> None:
    async with runtime.sessions() as session:
        await session.execute(delete(PipelineStateRow))
        await session.commit()
    gate = PauseGate(runtime.readers, ("bedrock", "property-data"), ttl=0)
    assert await gate.held() is None  # a fresh database has no switch: running

    await _set_breaker(runtime, "ses", BreakerState.OPEN)  # not this consumer's dependency
    assert await gate.held() is None

    await _set_breaker(runtime, "property-data", BreakerState.OPEN)
    await _set_breaker(runtime, "bedrock", BreakerState.OPEN)
    assert await gate.held() == "circuit breaker bedrock is open"

    async with runtime.sessions() as session:
        await pause(session, "a test pause", by="test")
        await session.commit()
    assert await gate.held() == "pipeline paused: a test pause"  # the switch comes first

    async with runtime.sessions() as session:
        await session.execute(update(PipelineStateRow).values(state=PipelineState.RUNNING))
        await session.commit()
    for name in ("ses", "property-data", "bedrock"):
        await _set_breaker(runtime, name, BreakerState.CLOSED)
    assert await gate.held() is None


async def test_the_answer_is_kept_for_its_ttl(runtime: Runtime) -> None:
    gate = PauseGate(runtime.readers, ("ses",), ttl=60)
    assert await gate.held() is None
    await _set_breaker(runtime, "ses", BreakerState.OPEN)
    try:
        assert await gate.held() is None  # cached
        gate.forget()
        assert await gate.held() == "circuit breaker ses is open"
    finally:
        await _set_breaker(runtime, "ses", BreakerState.CLOSED)
