"""The outbox relay and the scheduler against the emulator server and the database."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import event

from infra.provision import Report
from services.scheduler.app import start_due_campaigns, tick
from shared.adapters.db.uow import SqlUnitOfWork
from shared.adapters.outbox import OutboxRelay
from shared.adapters.publisher import SnsPublisher
from shared.adapters.topology import TOPOLOGY
from shared.bootstrap import Adapters, Runtime, bootstrap
from shared.config import Settings
from shared.domain.clock import utcnow_naive
from shared.domain.events import StatusChange
from shared.domain.statuses import CampaignStatus as S
from shared.domain.transitions import Trigger
from shared.service_layer.pausing import pause, resume
from shared.service_layer.transitions import fire
from tests.factories import history, load, make_campaign
from tests.fakes import RecordingPublisher
from tests.support import receive_all


async def test_an_event_whose_publish_failed_is_published_by_the_sweep(
    runtime: Runtime, topology: Report
) -> None:
    """SNS is down at commit time: the transition stands, and the sweep publishes it later."""
    campaign_id = await make_campaign(runtime.sessions)
    gone = SnsPublisher(
        runtime.sns, runtime.publisher.topic_arn + "-gone", runtime.sqs, runtime.names
    )
    broken = OutboxRelay(runtime.sessions, gone)

    async with SqlUnitOfWork(runtime.sessions, broken) as uow:
        event = await fire(uow, campaign_id, Trigger.SCHEDULE)
        await uow.commit()

    (row,) = await history(runtime.sessions, campaign_id)
    assert row.published_at is None
    assert row.publish_attempts == 1
    assert "NotFound" in (row.last_error or "")
    assert await receive_all(runtime.sqs, topology.queue_urls["intro"]) == []
    assert (await load(runtime.sessions, campaign_id)).campaign_status is S.WAITING_FOR_DATA

    assert await runtime.relay.sweep() == 1

    (row,) = await history(runtime.sessions, campaign_id)
    assert row.published_at is not None
    (message,) = await receive_all(runtime.sqs, topology.queue_urls["intro"])
    assert json.loads(message["Body"])["event_id"] == str(event.event_id)
    assert await runtime.relay.sweep() == 0  # published rows are marked and left alone


async def test_hand_offs_committed_at_once_are_each_marked_published_once(
    runtime: Runtime, topology: Report
) -> None:
    """The published mark is a group commit: every row marked, once, and each caller returns
    only after its own row is. (That callers share an UPDATE is tests/unit/test_published_marks;
    here, how many overlap depends on the emulator's speed.)"""
    campaigns = [await make_campaign(runtime.sessions) for _ in range(8)]
    marks: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("UPDATE outbox SET published_at"):
            marks.append(statement)

    async def start(campaign_id: int) -> None:
        async with runtime.unit_of_work() as uow:
            await fire(uow, campaign_id, Trigger.SCHEDULE)
            await uow.commit()
        (row,) = await history(runtime.sessions, campaign_id)
        assert row.published_at is not None  # marked before commit() returned

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", seen)
    try:
        await asyncio.gather(*(start(campaign_id) for campaign_id in campaigns))
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", seen)

    rows = [
        row for campaign_id in campaigns for row in await history(runtime.sessions, campaign_id)
    ]
    assert [row.publish_attempts for row in rows] == [1] * len(campaigns)
    assert 1 <= len(marks) <= len(campaigns), marks
    received = await receive_all(runtime.sqs, topology.queue_urls["intro"])
    assert len(received) == len(campaigns)


async def test_the_sweep_leaves_fresh_rows_to_the_committing_process(runtime: Runtime) -> None:
    campaign_id = await make_campaign(runtime.sessions)
    async with SqlUnitOfWork(runtime.sessions) as uow:  # no relay: as if the process died here
        await fire(uow, campaign_id, Trigger.SCHEDULE)
        await uow.commit()
    patient = OutboxRelay(runtime.sessions, runtime.publisher, grace=timedelta(minutes=5))

    assert await patient.sweep() == 0
    assert await runtime.relay.sweep() == 1


async def test_scheduler_starts_due_campaigns_once_across_replicas(
    runtime: Runtime, topology: Report
) -> None:
    due = [await make_campaign(runtime.sessions) for _ in range(4)]
    later = await make_campaign(
        runtime.sessions, next_send_datetime=utcnow_naive() + timedelta(days=2)
    )

    started = await asyncio.gather(*(start_due_campaigns(runtime.unit_of_work) for _ in range(3)))

    assert sum(started) == 4
    for campaign_id in due:
        assert [r.to_status for r in await history(runtime.sessions, campaign_id)] == [
            "WAITING_FOR_DATA"
        ]
    assert (await load(runtime.sessions, later)).campaign_status is S.DORMANT
    for spec in TOPOLOGY.queues:
        messages = await receive_all(runtime.sqs, topology.queue_urls[spec.name], rounds=3)
        expected = 4 if S.WAITING_FOR_DATA in spec.to_statuses else 0
        assert len(messages) == expected, spec.name
        assert {json.loads(m["Body"])["campaign_id"] for m in messages} <= set(due)


async def test_tick_is_quiet_when_nothing_is_due(runtime: Runtime) -> None:
    await make_campaign(runtime.sessions, next_send_datetime=utcnow_naive() + timedelta(hours=1))

    await tick(runtime)

    assert await runtime.relay.sweep() == 0


async def test_a_paused_pipeline_starts_no_new_cycle(runtime: Runtime) -> None:
    due = await make_campaign(runtime.sessions)
    async with runtime.sessions() as session:
        await pause(session, "circuit breaker ses opened: down", by="test")
        await session.commit()

    assert await start_due_campaigns(runtime.unit_of_work) == 0
    assert (await load(runtime.sessions, due)).campaign_status is S.DORMANT

    async with runtime.unit_of_work() as uow:
        await resume(uow, by="test")
        await uow.commit()
    assert await start_due_campaigns(runtime.unit_of_work) == 1


async def test_a_bootstrapped_runtime_publishes_through_the_publisher_it_was_given(
    database_url: str, sessions: Any
) -> None:
    """bootstrap() takes adapters: with a recording publisher, a scheduler tick's transition
    and the relay's publish are seen on the real database without any bus."""
    publisher = RecordingPublisher()
    settings = Settings(
        database_url=database_url, env="given", outbox_grace_seconds=0, aws_region="eu-west-1"
    )
    campaign_id = await make_campaign(sessions)

    async with bootstrap(settings, Adapters(publisher=publisher)) as runtime:
        await tick(runtime)

    (new,) = publisher.published
    assert isinstance(new.event, StatusChange) and new.queue is None
    assert (new.event.campaign_id, new.event.to_status) == (campaign_id, S.WAITING_FOR_DATA)
    (row,) = await history(sessions, campaign_id)
    assert row.event_id == str(new.event.event_id) and row.published_at is not None
