"""Fakes for the unit tier: storage, the bus and SQS, in memory, keeping the real rules.

- `FakeStore` and `FakeUnitOfWork`: the unit-of-work port over dicts. A unit of work that is
  left without `commit()` rolls its changes back; `commit()` records the consumed event as
  processed (raising `AlreadyProcessed` for a second delivery, as the SQL one does) and moves
  what was emitted to `store.events`, the fake outbox.
- `RecordingPublisher`: the publisher port, remembering what it was asked to publish.
- `RuleKeepingSqs`: the SQS calls the consumer runtime makes, refusing what real SQS refuses
  (moto lets some through): characters outside SQS's set, more than ten attributes.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from shared.adapters.db.models import Base, Campaign
from shared.domain.clock import utcnow_naive
from shared.domain.events import Event
from shared.domain.statuses import CampaignStatus, PipelineState, SubStatus
from shared.domain.transitions import SUB_STATUS_COLUMNS, Snapshot
from shared.service_layer.unit_of_work import AlreadyProcessed, NewEvent


def campaign(campaign_id: int = 1, **fields: Any) -> Campaign:
    """A campaign as the database would hold it after creation: DORMANT, every step DORMANT."""
    values: dict[str, Any] = {
        "id": campaign_id,
        "name": "Maple Street newsletter",
        "agent_name": "Ada Agent",
        "agent_email": "ada@agents.example",
        "address": "12 Maple Street, Springfield, IL 62704",
        "market_area": "Springfield, IL",
        "no_address_newsletter": False,
        "requires_approval": False,
        "campaign_status": CampaignStatus.DORMANT,
        "cycle": 0,
        "cadence_days": 30,
        "next_send_datetime": utcnow_naive() - timedelta(minutes=1),
        "paused": False,
        "error_reason": None,
        "error_from_status": None,
        **dict.fromkeys(SUB_STATUS_COLUMNS, SubStatus.DORMANT),
        **dict.fromkeys(
            ("property_data", "active_listings", "recent_sales", "local_market_data"), None
        ),
        "mortgage_rate": None,
        "intro": None,
        "home_report_analysis": None,
    }
    values.update(fields)
    return Campaign(**values)


class FakeCampaigns:
    def __init__(self, store: FakeStore, undo: list[tuple[Campaign, str, Any]]) -> None:
        self._store = store
        self._undo = undo

    async def get(self, campaign_id: int) -> Campaign | None:
        return self._store.campaigns.get(campaign_id)

    async def lock(self, campaign_id: int) -> Snapshot | None:
        row = self._store.campaigns.get(campaign_id)
        if row is None:
            return None
        return Snapshot.of(row)

    async def compare_and_set(
        self,
        campaign_id: int,
        *,
        status: CampaignStatus | None,
        cycle: int,
        expect: Mapping[str, Any],
        values: Mapping[str, Any],
    ) -> bool:
        row = self._store.campaigns.get(campaign_id)
        if row is None or row.cycle != cycle:
            return False
        if status is not None and row.campaign_status is not status:
            return False
        if any(getattr(row, column) != value for column, value in expect.items()):
            return False
        for column, value in values.items():
            self._undo.append((row, column, getattr(row, column)))
            setattr(row, column, value)
        return True

    async def existing(self, campaign_ids: Iterable[int]) -> set[int]:
        return {i for i in campaign_ids if i in self._store.campaigns}

    async def due(self, now: datetime, limit: int) -> list[int]:
        dormant = [
            c
            for c in self._store.campaigns.values()
            if c.campaign_status is CampaignStatus.DORMANT and c.next_send_datetime <= now
        ]
        dormant.sort(key=lambda c: (c.next_send_datetime, c.id))
        return [c.id for c in dormant[:limit]]


class FakePipeline:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    async def state(self) -> PipelineState:
        return self._store.pipeline_state


class FakeUnitOfWork:
    def __init__(
        self, store: FakeStore, consumer: str | None = None, event_id: UUID | None = None
    ) -> None:
        self._store = store
        self._consumer = consumer
        self._event_id = event_id
        self._undo: list[tuple[Campaign, str, Any]] = []
        self._rows: list[Base] = []
        self._new: list[NewEvent] = []
        self.campaigns = FakeCampaigns(store, self._undo)
        self.pipeline = FakePipeline(store)
        self.committed = False
        """Whether the last transaction of this unit of work was committed."""

    async def __aenter__(self) -> Self:
        self.committed = False
        self._undo.clear()
        self._rows, self._new = [], []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._rollback()

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Self]:
        """Reads only: whatever is changed inside is undone on leaving, as nothing commits."""
        async with self:
            yield self

    def add(self, *rows: Base) -> None:
        self._rows.extend(rows)

    def emit(self, event: Event, *, queue: str | None = None, delay_seconds: int = 0) -> None:
        self._new.append(NewEvent(event, queue, delay_seconds))

    def collect_new_events(self) -> list[NewEvent]:
        new, self._new = self._new, []
        return new

    async def commit(self) -> None:
        if self._consumer and self._event_id:
            marker = (self._consumer, self._event_id)
            if marker in self._store.processed:
                self._rollback()
                raise AlreadyProcessed(f"{self._consumer} already handled {self._event_id}")
            self._store.processed.add(marker)
        self._store.rows.extend(self._rows)
        self._store.events.extend(self.collect_new_events())
        self._rows = []
        self._undo.clear()
        self.committed = True

    def _rollback(self) -> None:
        for row, column, value in reversed(self._undo):
            setattr(row, column, value)
        self._undo.clear()
        self._rows, self._new = [], []


@dataclass
class FakeStore:
    """What the fake database holds; every `FakeUnitOfWork` made from it shares it."""

    campaigns: dict[int, Campaign] = field(default_factory=dict)
    rows: list[Base] = field(default_factory=list)
    events: list[NewEvent] = field(default_factory=list)
    """The outbox: every event a committed unit of work emitted, in order."""
    processed: set[tuple[str, UUID | None]] = field(default_factory=set)
    pipeline_state: PipelineState = PipelineState.RUNNING

    def add_campaign(self, **fields: Any) -> Campaign:
        row = campaign(len(self.campaigns) + 1, **fields)
        self.campaigns[row.id] = row
        return row

    def unit_of_work(self, consumer: str | None = None, event_id: UUID | None = None) -> Any:
        return FakeUnitOfWork(self, consumer, event_id)

    def status_changes(self) -> list[tuple[CampaignStatus, CampaignStatus]]:
        """(from, to) of every STATUS_CHANGE in the outbox, in order."""
        return [
            (new.event.from_status, new.event.to_status)
            for new in self.events
            if new.event.event_type_name() == "STATUS_CHANGE"  # type: ignore[attr-defined]
        ]


class RecordingPublisher:
    """The publisher port; `fail` makes every publish raise, as SNS down would."""

    def __init__(self, *, fail: bool = False) -> None:
        self.published: list[NewEvent] = []
        self.fail = fail

    async def publish(
        self, event: Event, *, queue: str | None = None, delay_seconds: int = 0
    ) -> None:
        if self.fail:
            raise ConnectionError("the bus is unreachable")
        self.published.append(NewEvent(event, queue, delay_seconds))


# What real SQS refuses in a SendMessage, which moto lets through. From the SQS developer
# guide: message bodies and String/Number attribute values may only hold #x9, #xA, #xD,
# #x20-#xD7FF, #xE000-#xFFFD and #x10000-#x10FFFF; a message has at most 10 attributes;
# attribute names are letters, digits, '_', '-' and '.'.

MAX_ATTRIBUTES = 10
_NAME = re.compile(r"^[A-Za-z0-9_\-.]{1,256}$")


def valid_char(char: str) -> bool:
    code = ord(char)
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def sqs_text(text: str) -> str:
    """`text` with every character SQS refuses replaced, so it can be sent at all."""
    return "".join(c if valid_char(c) else "?" for c in text)


def refusal(body: str, attributes: dict[str, Any]) -> str | None:
    """Why SQS would refuse this message, or None if it would take it."""
    if not body:
        return "empty body"
    if not all(valid_char(c) for c in body):
        return "invalid characters in the body"
    if len(attributes) > MAX_ATTRIBUTES:
        return f"{len(attributes)} message attributes, more than {MAX_ATTRIBUTES}"
    for name, value in attributes.items():
        if not _NAME.match(name) or name.startswith(("AWS.", "Amazon.")):
            return f"invalid attribute name {name!r}"
        text = value.get("StringValue")
        if text is not None and not all(valid_char(c) for c in text):
            return f"invalid characters in attribute {name}"
    return None


class RuleKeepingSqs:
    """Records the calls the consumer makes on one queue, refusing what real SQS would."""

    QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/t-intro"
    DLQ = QUEUE + "-dlq"

    def __init__(self, *, max_receive_count: int = 5, visibility_timeout: int = 30) -> None:
        self.max_receive_count = max_receive_count
        self.visibility_timeout = visibility_timeout
        self.dead_letters: list[dict[str, Any]] = []
        self.deleted: list[str] = []
        self.released: list[str] = []
        self.visibility: list[tuple[str, int]] = []

    async def get_queue_attributes(self, **_: Any) -> dict[str, Any]:
        policy = {
            "deadLetterTargetArn": "arn:aws:sqs:x:1:t-intro-dlq",
            "maxReceiveCount": self.max_receive_count,
        }
        return {
            "Attributes": {
                "VisibilityTimeout": str(self.visibility_timeout),
                "RedrivePolicy": json.dumps(policy),
            }
        }

    async def get_queue_url(self, **_: Any) -> dict[str, str]:
        return {"QueueUrl": self.DLQ}

    async def send_message(
        self, *, QueueUrl: str, MessageBody: str, MessageAttributes: dict[str, Any]
    ) -> dict[str, str]:
        refused = refusal(MessageBody, MessageAttributes)
        if refused:
            raise ValueError(f"SQS refuses the message: {refused}")
        assert QueueUrl == self.DLQ
        self.dead_letters.append(MessageAttributes)
        return {"MessageId": f"dlq-{len(self.dead_letters)}"}

    async def delete_message(self, *, QueueUrl: str, ReceiptHandle: str) -> None:
        assert QueueUrl == self.QUEUE
        self.deleted.append(ReceiptHandle)

    async def delete_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, str]]) -> Any:
        assert QueueUrl == self.QUEUE
        self.deleted.extend(e["ReceiptHandle"] for e in Entries)
        return {"Successful": Entries}

    async def change_message_visibility(
        self, *, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int
    ) -> None:
        assert QueueUrl == self.QUEUE
        assert 0 <= VisibilityTimeout <= 43_200, VisibilityTimeout
        self.visibility.append((ReceiptHandle, VisibilityTimeout))
        if VisibilityTimeout < self.visibility_timeout:
            self.released.append(ReceiptHandle)
