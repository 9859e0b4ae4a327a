"""The overview's charts and a campaign's hand-off timings, read from the database through the
API: messages handled and emails sent per minute, what waits for which queue, stage timings."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import insert, update

from shared.adapters.db.models import Delivery, ProcessedEvent
from shared.bootstrap import Runtime
from shared.domain.clock import utcnow_naive
from shared.domain.statuses import DeliveryStatus
from tests.factories import history, make_send, start


async def test_per_minute_throughput_and_what_waits_for_which_queue(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    send_id = await make_send(runtime, recipients=3)  # its cycle went through two consumers
    async with runtime.sessions() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.send_id == send_id)
            .values(status=DeliveryStatus.SENT, sent_at=utcnow_naive())
        )
        await session.commit()
    waiting = await start(runtime)  # WAITING_FOR_DATA, nobody has handled it yet

    body = (await api.get("/api/v1/activity", params={"minutes": 5})).json()

    minutes = body["per_minute"]
    assert len(minutes) == 5 and all(m["at"].endswith("Z") for m in minutes)
    assert sum(m["emails"] for m in minutes) == 3
    assert sum(m["messages"] for m in minutes) == 2  # email-creation's and the sender's markers
    ages = body["oldest_waiting_seconds"]
    assert set(ages) >= {"property", "intro", "email-sender"} and "feedback" not in ages
    assert ages["property"] >= 0 and ages["email-creation"] == 0
    async with runtime.sessions() as session:  # the property consumer handles it now
        await session.execute(
            insert(ProcessedEvent).values(consumer="property", event_id=str(waiting.event_id))
        )
        await session.commit()
    ages_after = (await api.get("/api/v1/activity")).json()["oldest_waiting_seconds"]
    assert ages_after["property"] == 0 and ages_after["intro"] >= ages["intro"]
    assert (await api.get("/api/v1/activity", params={"minutes": 0})).status_code == 422


async def test_a_cycles_handoffs_stage_by_stage(api: httpx.AsyncClient, runtime: Runtime) -> None:
    event = await start(runtime)
    (row,) = await history(runtime.sessions, event.campaign_id)
    async with runtime.sessions() as session:
        for consumer, after in (("property", 1.5), ("intro", 4.0)):
            await session.execute(
                insert(ProcessedEvent).values(
                    consumer=consumer,
                    event_id=row.event_id,
                    processed_at=row.created_at + timedelta(seconds=after),
                )
            )
        await session.commit()

    response = await api.get(f"/api/v1/campaigns/{event.campaign_id}/handoffs")

    (stage,) = response.json()
    assert stage["to_status"] == "WAITING_FOR_DATA"
    assert [(h["consumer"], h["seconds"]) for h in stage["handled"]] == [
        ("intro", 4.0),
        ("property", 1.5),
    ]
    assert stage["slowest_seconds"] == 4.0 and stage["written_at"].endswith("Z")
    assert stage["receivers"] == [
        "active-listings",
        "intro",
        "local-market",
        "property",
        "recent-sales",
    ]
    missing = await api.get("/api/v1/campaigns/999999/handoffs")
    assert missing.status_code == 404
