"""Queues: depth of every service queue and its DLQ; peek at dead letters; redrive them."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from services.control_api.deps import Operator, RuntimeDep
from services.control_api.errors import OPERATOR_ERRORS, ApiError
from services.control_api.schemas import RedriveRequest
from shared.adapters.topology import TOPOLOGY, QueueSpec
from shared.consumer import redrive
from shared.service_layer import audit
from shared.views.monitoring import QueueDepth, queue_depth

router = APIRouter(prefix="/api/v1/queues", tags=["queues"], responses=OPERATOR_ERRORS)


def _spec(name: str) -> QueueSpec:
    try:
        return TOPOLOGY.queue(name)
    except KeyError as exc:
        raise ApiError(404, "not_found", str(exc.args[0])) from None


@router.get("")
async def queues(runtime: RuntimeDep, _: Operator) -> list[QueueDepth]:
    return list(
        await asyncio.gather(*(queue_depth(runtime.sqs, runtime.names, q) for q in TOPOLOGY.queues))
    )


@router.get("/{name}/dlq")
async def peek_dlq(
    name: str, runtime: RuntimeDep, _: Operator, limit: Annotated[int, Query(ge=1, le=100)] = 10
) -> list[redrive.DeadLetter]:
    return await redrive.peek(runtime.sqs, runtime.names, _spec(name), limit)


@router.post("/{name}/dlq/redrive")
async def redrive_dlq(
    name: str, body: RedriveRequest, runtime: RuntimeDep, who: Operator
) -> redrive.RedriveResult:
    wanted = redrive.RedriveFilter(**body.model_dump(exclude={"dry_run"}))
    result = await redrive.redrive(
        runtime.sqs, runtime.publisher, runtime.names, _spec(name), wanted, dry_run=body.dry_run
    )
    if not body.dry_run:
        async with runtime.sessions() as session:
            audit.record(
                session,
                who,
                "redrive",
                campaign_ids=sorted({m.campaign_id for m in result.matched if m.campaign_id}),
                detail={"queue": name, "redriven": result.redriven, "skipped": len(result.skipped)},
            )
            await session.commit()
    return result
