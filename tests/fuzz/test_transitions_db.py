"""The transition function on the real database: any order, any duplication, one result.

Each example is one fresh campaign driven through a whole cycle. Within each stage its steps'
completions arrive in any order, each one to three times, some at the same moment, mixed with
late redeliveries of earlier steps. The campaign must end where a
tidy run ends, with exactly one STATUS_CHANGE per transition.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.adapters.db.uow import SqlUnitOfWork
from shared.domain.events import StatusChange
from shared.domain.statuses import CampaignStatus as S
from shared.domain.statuses import SubStatus
from shared.domain.transitions import DATA_STEPS, SUB_STATUS_COLUMNS, TransitionRefused, Trigger
from shared.service_layer.steps import finish_step
from shared.service_layer.transitions import fire
from tests.factories import history, load, make_campaign
from tests.fuzz.profiles import examples

Sessions = async_sessionmaker[AsyncSession]
Delivery = tuple[str, str | None, bool]
"""A step's completion: the column, the error it reports (None for READY), and whether it is
a stale one from the previous cycle."""

STAGES: tuple[tuple[str, ...], ...] = (
    DATA_STEPS,
    ("home_report_analysis_status",),
    ("email_status",),
    ("send_status",),
)


@st.composite
def waves(
    draw: st.DrawFn, steps: tuple[str, ...], failing: str | None = None
) -> list[list[Delivery]]:
    """The stage's completions, each 1-3 times, plus earlier stages' again and stale ones of
    the previous cycle, in waves.

    The deliveries of one wave run concurrently, each in its own transaction.
    """
    earlier = [c for c in SUB_STATUS_COLUMNS[: SUB_STATUS_COLUMNS.index(steps[0])]]
    deliveries: list[Delivery] = [
        (step, "boom" if step == failing else None, False)
        for step in steps
        for _ in range(draw(st.integers(1, 3)))
    ]
    if earlier:  # late redeliveries of steps already done
        deliveries += [
            (s, None, False) for s in draw(st.lists(st.sampled_from(earlier), max_size=3))
        ]
    stale = draw(st.lists(st.sampled_from(SUB_STATUS_COLUMNS), max_size=2))
    deliveries += [(s, None, True) for s in stale]
    order = draw(st.permutations(deliveries))
    result: list[list[Delivery]] = []
    while order:
        size = draw(st.integers(1, 3))
        result.append(list(order[:size]))
        order = order[size:]
    return result


async def deliver(sessions: Sessions, start: StatusChange, wave: list[Delivery]) -> list[bool]:
    previous = start.model_copy(update={"cycle": start.cycle - 1})

    async def one(step: str, error: str | None, stale: bool) -> bool:
        async with SqlUnitOfWork(sessions) as uow:
            return await finish_step(uow, previous if stale else start, step, error=error)

    return list(await asyncio.gather(*(one(*delivery) for delivery in wave)))


async def run_stage(
    sessions: Sessions, start: StatusChange, steps: tuple[str, ...], stage: list[list[Delivery]]
) -> None:
    """Apply the waves; each of the stage's steps must have taken effect exactly once."""
    took_effect: Counter[str] = Counter()
    for wave in stage:
        for (step, _, stale), changed in zip(
            wave, await deliver(sessions, start, wave), strict=True
        ):
            assert not (stale and changed), f"a stale {step} took effect"
            took_effect[step] += changed
    assert {s: took_effect[s] for s in steps} == dict.fromkeys(steps, 1)
    assert sum(took_effect.values()) == len(steps), "a stray delivery changed something"


async def fire_twice(sessions: Sessions, campaign_id: int, trigger: Trigger) -> None:
    """Two operators (or schedulers) fire the same trigger at once: exactly one may win."""

    async def once() -> StatusChange:
        async with SqlUnitOfWork(sessions) as uow:
            event = await fire(uow, campaign_id, trigger)
            await uow.commit()
        return event

    results = await asyncio.gather(once(), once(), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["StatusChange", "TransitionRefused"]


@examples(200)
@given(
    data=waves(DATA_STEPS),
    home=waves(STAGES[1]),
    email=waves(STAGES[2]),
    send=waves(STAGES[3]),
    requires_approval=st.booleans(),
)
async def test_any_order_and_duplication_of_step_completions_ends_one_way(
    sessions: Sessions,
    data: list[list[Delivery]],
    home: list[list[Delivery]],
    email: list[list[Delivery]],
    send: list[list[Delivery]],
    requires_approval: bool,
) -> None:
    campaign_id = await make_campaign(sessions, requires_approval=requires_approval)
    await fire_twice(sessions, campaign_id, Trigger.SCHEDULE)
    (start_row,) = await history(sessions, campaign_id)
    start = StatusChange.model_validate_json(start_row.payload)

    await run_stage(sessions, start, DATA_STEPS, data)
    assert (await load(sessions, campaign_id)).campaign_status is S.WAITING_FOR_HOME_ANALYSIS
    await run_stage(sessions, start, STAGES[1], home)
    assert (await load(sessions, campaign_id)).campaign_status is S.READY_TO_CREATE_EMAIL
    await run_stage(sessions, start, STAGES[2], email)
    if requires_approval:
        assert (await load(sessions, campaign_id)).campaign_status is S.WAITING_FOR_MANUAL_APPROVAL
        await fire_twice(sessions, campaign_id, Trigger.APPROVE)
    await fire_twice(sessions, campaign_id, Trigger.SEND_STARTED)
    await run_stage(sessions, start, STAGES[3], send)

    campaign = await load(sessions, campaign_id)
    assert (campaign.campaign_status, campaign.cycle) == (S.DORMANT, 1)
    assert all(getattr(campaign, c) is SubStatus.DORMANT for c in SUB_STATUS_COLUMNS)
    assert [r.to_status for r in await history(sessions, campaign_id)] == [
        "WAITING_FOR_DATA",
        "WAITING_FOR_HOME_ANALYSIS",
        "READY_TO_CREATE_EMAIL",
        *(["WAITING_FOR_MANUAL_APPROVAL"] if requires_approval else []),
        "READY_TO_SEND_EMAIL",
        "SENDING",
        "DORMANT",
    ]


@st.composite
def failing_data_stage(draw: st.DrawFn) -> tuple[str, list[list[Delivery]]]:
    failing = draw(st.sampled_from(DATA_STEPS))
    return failing, draw(waves(DATA_STEPS, failing))


@examples(200)
@given(stage=failing_data_stage())
async def test_a_failed_step_in_any_order_errors_the_campaign_once(
    sessions: Sessions, stage: tuple[str, list[list[Delivery]]]
) -> None:
    failing, data = stage
    campaign_id = await make_campaign(sessions)
    async with SqlUnitOfWork(sessions) as uow:
        start = await fire(uow, campaign_id, Trigger.SCHEDULE)
        await uow.commit()

    await run_stage(sessions, start, DATA_STEPS, data)

    campaign = await load(sessions, campaign_id)
    assert campaign.campaign_status is S.ERROR
    assert campaign.error_from_status is S.WAITING_FOR_DATA
    assert campaign.error_reason == f"{failing}: boom"
    assert {c: getattr(campaign, c) for c in DATA_STEPS} == {
        c: SubStatus.ERROR if c == failing else SubStatus.READY for c in DATA_STEPS
    }
    assert [r.to_status for r in await history(sessions, campaign_id)] == [
        "WAITING_FOR_DATA",
        "ERROR",
    ]
    try:
        async with SqlUnitOfWork(sessions) as uow:
            await fire(uow, campaign_id, Trigger.SCHEDULE)
    except TransitionRefused:
        pass
    else:
        raise AssertionError("a campaign in ERROR was scheduled")
