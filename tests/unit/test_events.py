import json
from uuid import UUID

import pytest

from shared.consumer.envelope import parse_body
from shared.domain.events import MalformedMessage, StatusChange
from shared.domain.statuses import CampaignStatus
from tests.conftest import EVENTS


def test_raw_body_parses_to_status_change() -> None:
    event = parse_body((EVENTS / "raw_status_change.json").read_text())

    assert isinstance(event, StatusChange)
    assert event.event_id == UUID("0b7e7c1e-3a4b-4c5d-8e9f-0a1b2c3d4e5f")
    assert (event.campaign_id, event.cycle) == (42, 3)
    assert event.to_status is CampaignStatus.WAITING_FOR_DATA


def test_sns_envelope_is_unwrapped_to_the_same_event() -> None:
    raw = parse_body((EVENTS / "raw_status_change.json").read_text())
    enveloped = parse_body((EVENTS / "sns_envelope.json").read_text())

    assert enveloped == raw


def test_round_trip_keeps_every_field() -> None:
    event = StatusChange(
        campaign_id=7, cycle=1, from_status="DORMANT", to_status="WAITING_FOR_DATA"
    )

    assert parse_body(event.model_dump_json()) == event


def test_message_attributes_carry_what_filter_policies_match_on() -> None:
    event = StatusChange(
        campaign_id=7, cycle=1, from_status="WAITING_FOR_DATA", to_status="ERROR", reason="x"
    )

    assert event.message_attributes() == {"event_type": "STATUS_CHANGE", "to_status": "ERROR"}


def _raw(**changes: object) -> str:
    document = json.loads((EVENTS / "raw_status_change.json").read_text())
    document.update(changes)
    return json.dumps({k: v for k, v in document.items() if v is not ...})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("hello from the console", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"Type": "Notification", "Message": 5}', "no string 'Message'"),
        ('{"Type": "Notification", "Message": "nope"}', "SNS Message is not JSON"),
        ('{"campaign_id": 1}', "no 'event_type'"),
        (_raw(event_type="CAMPAIGN_DELETED"), "unknown event_type 'CAMPAIGN_DELETED'"),
        (_raw(version=2), "version"),
        (_raw(to_status="FETCHING"), "to_status"),
        (_raw(campaign_id=...), "campaign_id: Field required"),
        (_raw(campaign_id=-1), "campaign_id"),
        (_raw(occurred_at="2026-11-22T05:00:00"), "occurred_at"),
        (_raw(surprise=True), "surprise: Extra inputs are not permitted"),
    ],
)
def test_malformed_bodies_are_rejected_with_a_reason(body: str, message: str) -> None:
    with pytest.raises(MalformedMessage, match=message):
        parse_body(body)


def test_events_are_immutable() -> None:
    event = StatusChange(campaign_id=7, cycle=1, from_status="DORMANT", to_status="ERROR")

    with pytest.raises(ValueError, match="frozen"):
        event.cycle = 2  # type: ignore[misc]
