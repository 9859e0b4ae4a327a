"""Event parsing: every body becomes an event or a MalformedMessage with a reason, nothing else."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from shared.consumer.envelope import parse_body
from shared.domain.events import Event, MalformedMessage, SendBatch, parse_event
from tests.fuzz.strategies import bodies, events, json_values, mutated_event_documents, sns_envelope

REASONS = (
    "message body is not JSON",
    "SNS envelope has no string 'Message'",
    "SNS Message is not JSON",
    "expected a JSON object",
    "not a dripr event",
    "unknown event_type",
    "invalid event: ",
)
"""How every rejection begins: the consumer dead-letters with this text as the reason."""

DEEP = "[" * 1_500 + "]" * 1_500
HUGE_INT = '{"event_type": "STATUS_CHANGE", "campaign_id": ' + "9" * 4_301 + "}"


def parses_or_says_why(body: Any) -> Event | None:
    try:
        event = parse_body(body)
    except MalformedMessage as exc:
        reason = str(exc)
        assert reason.startswith(REASONS), reason
        return None
    assert isinstance(event, Event)
    return event


@given(bodies)
@example(DEEP)  # was RecursionError
@example(HUGE_INT)  # was ValueError: exceeds the limit for integer string conversion
@example(sns_envelope(DEEP))
@example(sns_envelope(HUGE_INT))
def test_any_text_body_parses_or_is_malformed(body: str) -> None:
    parses_or_says_why(body)


@given(st.binary() | bodies.map(lambda b: b.encode("utf-8", "surrogatepass")))
@example(b'{"event_type": "\xff"}')  # was UnicodeDecodeError
def test_any_bytes_body_parses_or_is_malformed(body: bytes) -> None:
    parses_or_says_why(body)


@given(st.dictionaries(st.text(), json_values) | mutated_event_documents())
def test_any_payload_parses_or_is_malformed(payload: dict[str, Any]) -> None:
    try:
        event = parse_event(payload)
    except MalformedMessage as exc:
        assert str(exc).startswith(("unknown event_type", "invalid event: ")), str(exc)
    else:
        assert event.event_type_name() == payload["event_type"]


AMBIGUOUS = SendBatch(
    send_id=1,
    campaign_id=1,
    cycle=0,
    batch=0,
    occurred_at=datetime(2016, 10, 28, tzinfo=ZoneInfo("Asia/Amman")),
)
"""A local time that occurs twice (a DST fold): Python's == calls it unequal to the same
instant at a fixed offset (PEP 495), so events are compared field by field as JSON."""


@given(events)
@example(AMBIGUOUS)
def test_valid_events_round_trip_raw_and_enveloped(event: Event) -> None:
    body = event.model_dump_json()

    for parsed in (parse_body(body), parse_body(sns_envelope(body))):
        assert type(parsed) is type(event)
        assert parsed.model_dump(mode="json") == event.model_dump(mode="json")
        assert parsed.occurred_at.timestamp() == event.occurred_at.timestamp()
        assert parsed.model_dump_json() == body


@given(mutated_event_documents())
def test_a_changed_event_that_still_parses_is_a_whole_event(document: dict[str, Any]) -> None:
    """An accepted body has no field the model drops, and means the same when sent on again."""
    event = parses_or_says_why(json.dumps(document))
    if event is None:
        return
    assert set(document) <= set(type(event).model_fields)
    assert parse_body(event.model_dump_json()) == event


def test_the_reasons_listed_here_are_the_parsers_own() -> None:
    """Guard the prefix list above: each prefix is one the parser really produces."""
    produced = set()
    for body in (
        "x",
        '{"Type": "Notification"}',
        '{"Type": "Notification", "Message": "x"}',
        "[]",
        "{}",
        '{"event_type": "X"}',
        '{"event_type": "SEND_BATCH"}',
    ):
        with pytest.raises(MalformedMessage) as caught:
            parse_body(body)
        produced.update(p for p in REASONS if str(caught.value).startswith(p))
    assert produced == set(REASONS)
