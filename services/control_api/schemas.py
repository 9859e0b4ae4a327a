"""Request and response models of the control API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, cast

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    model_validator,
)
from pydantic.config import JsonDict
from pydantic.json_schema import SkipJsonSchema

from services.control_api.deps import MAX_ID
from shared.consumer.redrive import DeadLetter
from shared.domain.clock import UtcDatetime
from shared.domain.statuses import CampaignStatus, SubStatus
from shared.views.sends import Deliverability, SendProgress

EMAIL = r"^[^@ \t\n\r\f\v]+@[^@ \t\n\r\f\v]+\.[^@ \t\n\r\f\v]+$"
"""Spelled out, not \\s: Python and JSON Schema (ECMA) regexes disagree on what \\s is."""


def _not_a_boolean(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("a number is required, not true or false")
    return value


def _iso_text(value: object) -> object:
    if not isinstance(value, str | datetime):
        raise ValueError("an ISO 8601 date-time string is required, e.g. 2027-01-05T09:00:00Z")
    return value


StrictDatetime = Annotated[datetime, BeforeValidator(_iso_text)]
"""An ISO 8601 string; not a number of seconds (pydantic's lax datetime takes those)."""
WholeNumber = Annotated[int, BeforeValidator(_not_a_boolean)]
"""An integer as JSON Schema has it: 348 or 348.0, never true (pydantic's lax int takes it)."""
Omitted = SkipJsonSchema[None]
"""A field that may be left out but not sent as null: the schema shows no null."""
Str200 = Annotated[str, Field(min_length=1, max_length=200)]
EmailStr320 = Annotated[str, Field(pattern=EMAIL, max_length=320)]
Cadence = Annotated[int, Field(ge=1, le=365)]
ADDRESS_UNLESS_NO_ADDRESS = {
    "if": {"properties": {"no_address_newsletter": {"const": False}}},
    "then": {
        "required": ["address"],
        "properties": {"address": {"type": "string", "minLength": 1}},
    },
}
"""The model validator's rule, in the schema too, so a client generator knows it."""


class RecipientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(pattern=EMAIL, max_length=320)
    name: str | None = Field(None, max_length=200)


class CampaignIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra=cast(JsonDict, ADDRESS_UNLESS_NO_ADDRESS)
    )

    name: str = Field(min_length=1, max_length=200)
    agent_name: str = Field(min_length=1, max_length=200)
    agent_email: str = Field(pattern=EMAIL, max_length=320)
    address: str | None = Field(None, max_length=500)
    market_area: str = Field(min_length=1, max_length=200)
    no_address_newsletter: StrictBool = False
    requires_approval: StrictBool = False
    cadence_days: int = Field(30, ge=1, le=365)
    next_send_datetime: StrictDatetime | None = Field(
        None,
        description="when the first cycle starts (ISO 8601; with a zone, or read as UTC); "
        "default: now",
    )
    recipients: list[RecipientIn] = Field(
        min_length=1,
        max_length=10_000,
        json_schema_extra={"uniqueItems": True},
        description="each address once; the same address in another case or with other "
        "accents is the same to the database (409)",
    )

    @model_validator(mode="after")
    def _address_unless_no_address(self) -> CampaignIn:
        if not self.no_address_newsletter and not self.address:
            raise ValueError("address is required unless no_address_newsletter is true")
        if len({(r.email, r.name) for r in self.recipients}) != len(self.recipients):
            raise ValueError("recipients contain the same recipient twice")
        return self


class CampaignEdit(BaseModel):
    """Only what is given changes; a field given as null is refused, but `address` (a
    no-address newsletter has none)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    name: Str200 | Omitted = None
    agent_name: Str200 | Omitted = None
    agent_email: EmailStr320 | Omitted = None
    address: str | None = Field(None, max_length=500)
    market_area: Str200 | Omitted = None
    no_address_newsletter: StrictBool | Omitted = None
    requires_approval: StrictBool | Omitted = None
    cadence_days: Cadence | Omitted = None
    next_send_datetime: StrictDatetime | Omitted = None


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

    campaign_id: WholeNumber | None = Field(None, ge=1, le=MAX_ID)
    error_contains: str | None = Field(None, max_length=200)
    older_than_seconds: StrictFloat | None = Field(None, ge=0)
    limit: WholeNumber = Field(100, ge=1, le=1000)
    dry_run: StrictBool = True
