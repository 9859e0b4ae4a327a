"""Campaigns: create, list, show, edit, and batch status actions (seed 002's pattern)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.control_api.deps import CampaignId, Operator, Page, RuntimeDep
from services.control_api.errors import OPERATOR_ERRORS, ApiError
from services.control_api.schemas import (
    AuditOut,
    BatchOut,
    BatchRequest,
    CampaignCounts,
    CampaignDetail,
    CampaignEdit,
    CampaignIn,
    CampaignOut,
    CampaignPage,
    Refusal,
    StatusChangeOut,
)
from shared.adapters.db.models import Campaign, Recipient
from shared.adapters.topology import TOPOLOGY
from shared.consumer import redrive
from shared.domain.addresses import collation_key
from shared.domain.clock import utcnow_naive
from shared.domain.statuses import IN_PROGRESS, CampaignStatus, SubStatus
from shared.domain.transitions import SUB_STATUS_COLUMNS
from shared.service_layer import audit, sends
from shared.service_layer.operations import apply_batch
from shared.views import campaigns as campaign_views
from shared.views import sends as send_views

SUB_STATUS_FILTER = (
    f"^({'|'.join(SUB_STATUS_COLUMNS)}):({'|'.join(status.value for status in SubStatus)})$"
)

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"], responses=OPERATOR_ERRORS)


async def _out(session: AsyncSession, campaign: Campaign) -> CampaignOut:
    recipients, unsubscribed = await campaign_views.recipient_counts(session, campaign.id)
    return CampaignOut(
        id=campaign.id,
        name=campaign.name,
        agent_name=campaign.agent_name,
        agent_email=campaign.agent_email,
        address=campaign.address,
        market_area=campaign.market_area,
        no_address_newsletter=campaign.no_address_newsletter,
        requires_approval=campaign.requires_approval,
        campaign_status=campaign.campaign_status,
        cycle=campaign.cycle,
        cadence_days=campaign.cadence_days,
        next_send_datetime=campaign.next_send_datetime,
        sub_statuses={c: getattr(campaign, c) for c in SUB_STATUS_COLUMNS},
        error_reason=campaign.error_reason,
        error_from_status=campaign.error_from_status,
        paused=campaign.paused,
        paused_reason=campaign.paused_reason,
        recipients=recipients,
        unsubscribed=unsubscribed,
    )


async def _get(session: AsyncSession, campaign_id: int, *, lock: bool = False) -> Campaign:
    campaign = await session.get(
        Campaign, campaign_id, with_for_update=lock, populate_existing=True
    )
    if campaign is None:
        raise ApiError(404, "not_found", f"no campaign {campaign_id}")
    return campaign


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_campaign(body: CampaignIn, runtime: RuntimeDep, who: Operator) -> CampaignOut:
    async with runtime.sessions() as session:
        values = body.model_dump(exclude={"recipients"})
        values["next_send_datetime"] = _naive(body.next_send_datetime) or utcnow_naive()
        twice = _same_to_the_database([r.email for r in body.recipients])
        if twice:
            raise ApiError(
                409,
                "conflict",
                "recipients contain the same email twice, as the database compares them "
                f"(case and accents aside): {', '.join(twice[:6])}",
            )
        campaign = Campaign(**values)
        campaign.recipients = [Recipient(email=r.email, name=r.name) for r in body.recipients]
        session.add(campaign)
        try:
            await session.flush()
        except IntegrityError as exc:  # a collation the check above does not know
            raise ApiError(
                409, "conflict", "two recipients are the same address to the database"
            ) from exc
        audit.record(
            session,
            who,
            "create",
            campaign_ids=[campaign.id],
            detail={"recipients": len(body.recipients)},
        )
        await session.commit()
        return await _out(session, campaign)


@router.get("")
async def list_campaigns(
    runtime: RuntimeDep,
    _: Operator,
    status_: Annotated[CampaignStatus | None, Query(alias="status")] = None,
    sub_status: Annotated[
        str | None,
        Query(
            description="column:VALUE, e.g. property_status:ERROR",
            pattern=SUB_STATUS_FILTER,
        ),
    ] = None,
    error: bool | None = None,
    paused: bool | None = None,
    page: Page = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> CampaignPage:
    wanted = campaign_views.CampaignFilter(
        status=status_, sub_status=_sub_status(sub_status), error=error, paused=paused
    )
    async with runtime.sessions() as session:
        rows, total = await campaign_views.page_of(session, wanted, page=page, page_size=page_size)
        items = [await _out(session, c) for c in rows]
    return CampaignPage(items=items, total=total, page=page, page_size=page_size)


@router.get("/counts")
async def campaign_counts(runtime: RuntimeDep, _: Operator) -> CampaignCounts:
    """How many campaigns are in each status and each sub-status: the overview's numbers."""
    async with runtime.sessions() as session:
        counts = await campaign_views.counts(session)
    return CampaignCounts(
        total=counts.total, by_status=counts.by_status, by_sub_status=counts.by_sub_status
    )


@router.get("/{campaign_id:int}")
async def show_campaign(
    campaign_id: CampaignId, runtime: RuntimeDep, _: Operator
) -> CampaignDetail:
    async with runtime.sessions() as session:
        campaign = await _get(session, campaign_id)
        out = await _out(session, campaign)
        rows = await campaign_views.status_history(session, campaign_id)
        history = [
            StatusChangeOut(
                event_id=r.event_id,
                cycle=r.cycle,
                from_status=r.from_status,
                to_status=r.to_status,
                occurred_at=r.created_at,
                published_at=r.published_at,
                reason=json.loads(r.payload).get("reason"),
            )
            for r in rows
        ]
        send = await sends.find(session, campaign_id)
        progress = await send_views.progress(session, send.id) if send else None
        feedback = await send_views.deliverability(session, campaign_id)
        entries = await campaign_views.audit_trail(session, campaign_id)
        trail = [
            AuditOut(at=e.at, actor=e.actor, action=e.action, send_id=e.send_id, detail=e.detail)
            for e in entries
        ]
    letters = await asyncio.gather(
        *(redrive.peek(runtime.sqs, runtime.names, spec, limit=100) for spec in TOPOLOGY.queues)
    )
    mine = [letter for group in letters for letter in group if letter.campaign_id == campaign_id]
    return CampaignDetail(
        **out.model_dump(),
        history=history,
        send=progress,
        deliverability=feedback,
        dead_letters=mine,
        audit=trail,
    )


@router.patch("/{campaign_id:int}")
async def edit_campaign(
    campaign_id: CampaignId, body: CampaignEdit, runtime: RuntimeDep, who: Operator
) -> CampaignOut:
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise ApiError(422, "invalid_request", "nothing to change")
    async with runtime.sessions() as session:
        campaign = await _get(session, campaign_id, lock=True)
        if campaign.campaign_status in IN_PROGRESS:
            raise ApiError(
                409,
                "conflict",
                f"campaign {campaign_id} is {campaign.campaign_status.value}: its cycle is in "
                "progress, and the services are reading it; edit it when it is DORMANT or ERROR",
            )
        if "next_send_datetime" in changes:
            changes["next_send_datetime"] = _naive(changes["next_send_datetime"])
        for name, value in changes.items():
            if value is None and name not in ("address",):
                raise ApiError(422, "invalid_request", f"{name} cannot be null")
            setattr(campaign, name, value)
        if not campaign.no_address_newsletter and not campaign.address:
            raise ApiError(  # the campaign's state decides, not the request alone
                409,
                "conflict",
                f"campaign {campaign_id} would have no address: give one, or make it a "
                "no-address newsletter",
            )
        audit.record(
            session, who, "edit", campaign_ids=[campaign_id], detail={"fields": sorted(changes)}
        )
        await session.commit()
        return await _out(session, campaign)


@router.post("/actions/{action}")
async def batch_action(
    action: Literal["approve", "reject", "send_now", "retry"],
    body: BatchRequest,
    runtime: RuntimeDep,
    who: Operator,
) -> BatchOut:
    """One request, many campaigns, one transaction: the status and its STATUS_CHANGE."""
    result = await apply_batch(
        runtime.unit_of_work(),
        action,
        body.campaign_ids,
        actor=who,
    )
    return BatchOut(
        action=action,
        updated_count=len(result.updated),
        queued_count=result.queued_count,
        updated=result.updated,
        refused=[Refusal(campaign_id=i, reason=r) for i, r in result.refused.items()],
    )


def _sub_status(text: str | None) -> tuple[str, SubStatus] | None:
    """`column:VALUE` from the query string, or a 422 saying what is allowed."""
    if text is None:
        return None
    column, _sep, value = text.partition(":")
    if column not in SUB_STATUS_COLUMNS or value not in SubStatus.__members__:
        raise ApiError(
            422,
            "invalid_request",
            f"sub_status must be <column>:<value> with column one of "
            f"{', '.join(SUB_STATUS_COLUMNS)} and value one of {', '.join(SubStatus)}",
        )
    return column, SubStatus(value)


def _same_to_the_database(emails: list[str]) -> list[str]:
    """The addresses the recipients' unique key would find equal to another in the list."""
    keys = [collation_key(e) for e in emails]
    return sorted({e for e, k in zip(emails, keys, strict=True) if keys.count(k) > 1})


def _naive(value: object) -> object:
    if isinstance(value, datetime) and value.tzinfo is not None:
        try:
            return value.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # e.g. 0001-01-01T00:00+01:00 falls before year 1 in UTC
            raise ApiError(
                422, "invalid_request", f"next_send_datetime {value.isoformat()} is out of range"
            ) from None
    return value
