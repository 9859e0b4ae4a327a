"""The two reads the dashboard's overview needed: campaign counts, and each queue's hold."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import update

from shared.adapters.db.models import PipelineStateRow
from shared.bootstrap import Runtime
from shared.domain.statuses import CampaignStatus as S
from shared.domain.statuses import PipelineState, SubStatus
from tests.factories import make_campaign
from tests.integration.api.ui import trip


async def test_campaign_counts_by_status_and_sub_status(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await make_campaign(runtime.sessions, campaign_status=S.DORMANT)
    await make_campaign(runtime.sessions, campaign_status=S.DORMANT)
    await make_campaign(runtime.sessions, campaign_status=S.ERROR, property_status=SubStatus.ERROR)

    counts = (await api.get("/api/v1/campaigns/counts")).json()

    assert counts["total"] == 3
    assert (counts["by_status"]["DORMANT"], counts["by_status"]["ERROR"]) == (2, 1)
    assert counts["by_status"]["SENDING"] == 0  # every status is listed
    assert counts["by_sub_status"]["property_status"] == {
        "DORMANT": 2,
        "WAITING_FOR_DATA": 0,
        "READY": 0,
        "ERROR": 1,
    }
    assert sum(counts["by_sub_status"]["send_status"].values()) == 3


async def test_status_says_which_queues_are_held_and_why(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    running = (await api.get("/api/v1/queue-management/status")).json()
    await trip(runtime, "ses")
    paused = (await api.get("/api/v1/queue-management/status")).json()
    async with runtime.sessions() as session:  # the pipeline running while ses stays open
        await session.execute(update(PipelineStateRow).values(state=PipelineState.RUNNING))
        await session.commit()
    only_ses = (await api.get("/api/v1/queue-management/status")).json()

    assert not any(q["paused"] for q in running["queues"])
    assert all(q["paused"] for q in paused["queues"])
    assert _holds(paused)["intro"].startswith("pipeline paused: circuit breaker ses opened")
    assert _holds(only_ses)["email-sender"] == "circuit breaker ses is open"
    assert _holds(only_ses)["intro"] is None  # it depends on property-data and bedrock only
    assert {q["name"]: q["depends_on"] for q in only_ses["queues"]}["email-sender"] == ["ses"]


def _holds(status: dict[str, Any]) -> dict[str, str | None]:
    return {q["name"]: q["reason"] for q in status["queues"]}
