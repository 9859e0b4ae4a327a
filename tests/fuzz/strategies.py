"""Generators the properties share: JSON-ish values, valid events, and bodies made from them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from shared.domain.events import SendBatch, StatusChange
from shared.domain.statuses import CampaignStatus

BIG = 10**30
"""Far beyond any database integer column, yet a valid JSON number."""

numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-BIG, max_value=BIG),
    st.sampled_from([0, -1, 2**31, 2**63, -(2**63) - 1, BIG]),
    st.floats(allow_nan=True, allow_infinity=True),
)
texts = st.one_of(
    st.text(),
    st.text(st.characters(categories=["Cs", "Cc", "Co", "Cn"]) | st.characters()),
    st.sampled_from(["", " ", "\x00", "\ud800", "\ufffe", "🏠"]),
)
"""Text including lone surrogates, control and unassigned characters: JSON can carry them all."""
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
"""Anything `json.loads` could hand back, plus NaN and infinities."""


def aware_datetimes() -> st.SearchStrategy[datetime]:
    return st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 30), timezones=st.timezones()
    )


ids = st.integers(min_value=1, max_value=2**63 - 1)
cycles = st.integers(min_value=0, max_value=2**63 - 1)
statuses = st.sampled_from(CampaignStatus)

status_changes = st.builds(
    StatusChange,
    event_id=st.uuids(),
    occurred_at=aware_datetimes(),
    campaign_id=ids,
    cycle=cycles,
    from_status=statuses,
    to_status=statuses,
    reason=st.none() | st.text(),
)
send_batches = st.builds(
    SendBatch,
    event_id=st.uuids(),
    occurred_at=aware_datetimes(),
    send_id=ids,
    campaign_id=ids,
    cycle=cycles,
    batch=cycles,
)
events = st.one_of(status_changes, send_batches)


def sns_envelope(message: Any) -> str:
    """`message` as SNS wraps it for a subscription without raw delivery."""
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "5b8f0a6e-6f5c-5d3e-9b7b-0e1f2a3b4c5d",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:dev-dripr-status-change",
            "Message": message,
            "Timestamp": datetime.now(UTC).isoformat(),
        }
    )


@st.composite
def mutated_event_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event's JSON object with fields replaced by, or extended with, anything."""
    document: dict[str, Any] = json.loads(draw(events).model_dump_json())
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        key = draw(st.sampled_from(sorted(document)) | texts)
        action = draw(st.sampled_from(["replace", "drop"]))
        if action == "drop":
            document.pop(key, None)
        else:
            document[key] = draw(json_values)
    return document


def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=True)


bodies = st.one_of(
    texts,
    json_values.map(_dumps),
    mutated_event_documents().map(_dumps),
    mutated_event_documents().map(lambda d: sns_envelope(_dumps(d))),
    json_values.map(sns_envelope),
    events.map(lambda e: e.model_dump_json()),
    events.map(lambda e: sns_envelope(e.model_dump_json())),
    st.integers(min_value=1, max_value=3_000).map(lambda n: "[" * n + "]" * n),
    st.integers(min_value=4_301, max_value=6_000).map(
        lambda n: '{"event_type": "STATUS_CHANGE", "campaign_id": ' + "9" * n + "}"
    ),
)
"""SQS message bodies: text, JSON, broken events, SNS envelopes, valid events, and extremes."""
