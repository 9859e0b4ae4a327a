"""Events on the bus: immutable, versioned, and validated the same way wherever they are read.

`parse_event` turns a decoded JSON object into the event its `event_type` names, or raises a
`MalformedMessage` whose text says why (the consumer runtime dead-letters it with that reason);
unwrapping SQS bodies and SNS envelopes is the runtime's job (shared/consumer/envelope.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from shared.domain.errors import InvalidInput
from shared.domain.statuses import CampaignStatus

STATUS_CHANGE: Literal["STATUS_CHANGE"] = "STATUS_CHANGE"


def utcnow() -> datetime:
    return datetime.now(UTC)


class MalformedMessage(InvalidInput):
    """A message that can never be handled, however often it is retried."""


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID = Field(
        default_factory=uuid4,
        description="unique per event: consumers record it to handle each event once",
    )
    occurred_at: AwareDatetime = Field(
        default_factory=utcnow,
        description="when the event was written, with its zone (2026-12-02T09:30:00Z)",
    )

    def message_attributes(self) -> dict[str, str]:
        """String attributes SNS filter policies and SQS consumers can see without parsing."""
        return {"event_type": self.event_type_name()}

    @classmethod
    def event_type_name(cls) -> str:
        field = cls.model_fields["event_type"]
        return str(field.default)


class StatusChange(Event):
    """A campaign moved from one status to another; services subscribe by `to_status`."""

    event_type: Literal["STATUS_CHANGE"] = Field(
        "STATUS_CHANGE", description="what the event is: it picks the handler"
    )
    version: Literal[1] = Field(1, description="the format's version")
    campaign_id: int = Field(gt=0, description="the campaign that moved; it must exist")
    cycle: int = Field(
        ge=0, description="the campaign's cycle (its current one, or the event is stale)"
    )
    from_status: CampaignStatus = Field(description="the status it left")
    to_status: CampaignStatus = Field(
        description="the status it entered: the queues subscribed to it receive the event "
        "(and only with the `to_status` message attribute set, through the topic)"
    )
    reason: str | None = Field(None, description="why, for a person (an error, an operator)")

    def message_attributes(self) -> dict[str, str]:
        return {**super().message_attributes(), "to_status": self.to_status.value}


class SendBatch(Event):
    """Deliver the next batch of a send. Sent straight to the sender's queue, delayed by the
    send's cooldown; `batch` is its sequence number, so a duplicate of a batch is recognised."""

    event_type: Literal["SEND_BATCH"] = Field(
        "SEND_BATCH", description="what the event is: it picks the handler"
    )
    version: Literal[1] = Field(1, description="the format's version")
    send_id: int = Field(gt=0, description="the send (`dripr sends progress ID`); it must exist")
    campaign_id: int = Field(gt=0, description="the send's campaign")
    cycle: int = Field(ge=0, description="the send's cycle")
    batch: int = Field(
        ge=0, description="the batch's sequence number: a duplicate of one already done is dropped"
    )


EVENT_TYPES: dict[str, type[Event]] = {STATUS_CHANGE: StatusChange, "SEND_BATCH": SendBatch}
"""Every event type dripr knows, by the `event_type` it carries."""


def parse_event(payload: dict[str, Any]) -> Event:
    event_type = payload.get("event_type")
    model = EVENT_TYPES.get(event_type) if isinstance(event_type, str) else None
    if model is None:
        raise MalformedMessage(f"unknown event_type {event_type!r}")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise MalformedMessage(_describe(exc)) from exc


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False)[:5]:
        location = ".".join(str(part) for part in error["loc"]) or "event"
        parts.append(f"{location}: {error['msg']}")
    return "invalid event: " + "; ".join(parts)
