"""Request and response models of the control API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from services.control_api.deps import MAX_ID
from shared.consumer.redrive import DeadLetter
from shared.domain.addresses import collation_key
from shared.domain.clock import UtcDatetime
from shared.domain.statuses import CampaignStatus, SubStatus
from shared.views.sends import Deliverability, SendProgress

EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class RecipientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(pattern=EMAIL, max_length=320)
    name: str | None = Field(None, max_length=200)


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    agent_name: str = Field(min_length=1, max_length=200)
    agent_email: str = Field(pattern=EMAIL, max_length=320)
    address: str | None = Field(None, max_length=500)
    market_area: str = Field(min_length=1, max_length=200)
    no_address_newsletter: StrictBool = False
    requires_approval: StrictBool = False
    cadence_days: int = Field(30, ge=1, le=365)
    next_send_datetime: datetime | None = None
    recipients: list[RecipientIn] = Field(min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _address_unless_no_address(self) -> CampaignIn:
        if not self.no_address_newsletter and not self.address:
            raise ValueError("address is required unless no_address_newsletter is true")
        keys = [collation_key(r.email) for r in self.recipients]
        if len(set(keys)) != len(keys):
            twice = sorted(
                {r.email for r, k in zip(self.recipients, keys, strict=True) if keys.count(k) > 1}
            )
            raise ValueError(
                "recipients contain the same email twice, as the database compares them "
                f"(case and accents aside): {', '.join(twice[:6])}"
            )
        return self


class CampaignEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    agent_name: str | None = Field(None, min_length=1, max_length=200)
    agent_email: str | None = Field(None, pattern=EMAIL, max_length=320)
    address: str | None = Field(None, max_length=500)
    market_area: str | None = Field(None, min_length=1, max_length=200)
    no_address_newsletter: StrictBool | None = None
    requires_approval: StrictBool | None = None
    cadence_days: int | None = Field(None, ge=1, le=365)
    next_send_datetime: datetime | None = None


class CampaignOut(BaseModel):
    id: int
    name: str
    agent_name: str
    agent_email: str
    address: str | None
    market_area: str
    no_address_newsletter: bool
    requires_approval: bool
    campaign_status: CampaignStatus
    cycle: int
    cadence_days: int
    next_send_datetime: UtcDatetime
    sub_statuses: dict[str, SubStatus]
    error_reason: str | None
    error_from_status: CampaignStatus | None
    paused: bool
    paused_reason: str | None
    recipients: int
    unsubscribed: int


class StatusChangeOut(BaseModel):
    event_id: str
    cycle: int | None
    from_status: str | None
    to_status: str | None
    occurred_at: UtcDatetime
    published_at: UtcDatetime | None
    reason: str | None


class AuditOut(BaseModel):
    at: UtcDatetime
    actor: str
    action: str
    send_id: int | None
    detail: dict[str, Any] | None


class CampaignDetail(CampaignOut):
    history: list[StatusChangeOut]
    send: SendProgress | None
    deliverability: Deliverability
    dead_letters: list[DeadLetter]
    audit: list[AuditOut]


class CampaignPage(BaseModel):
    items: list[CampaignOut]
    total: int
    page: int
    page_size: int


class CampaignCounts(BaseModel):
    total: int
    by_status: dict[CampaignStatus, int]
    by_sub_status: dict[str, dict[SubStatus, int]]


CampaignIdItem = Annotated[int, Field(ge=1, le=MAX_ID)]


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        min_length=1, max_length=1000
    )


class Refusal(BaseModel):
    campaign_id: int
    reason: str


class BatchOut(BaseModel):
    action: Literal["approve", "reject", "send_now", "retry"]
    updated_count: int
    queued_count: int
    updated: list[int]
    refused: list[Refusal]


class RedriveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: int | None = Field(None, ge=1, le=MAX_ID)
    error_contains: str | None = Field(None, max_length=200)
    older_than_seconds: float | None = Field(None, ge=0)
    limit: int = Field(100, ge=1, le=1000)
    dry_run: StrictBool = True
