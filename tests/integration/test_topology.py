"""Provisioning and routing against the emulator server, over HTTP."""

from __future__ import annotations

import json

import pytest

from infra.provision import Report, provision
from shared.adapters.aws import sync_client
from shared.adapters.topology import TOPOLOGY
from shared.bootstrap import Runtime
from shared.config import Settings
from shared.domain.events import StatusChange
from shared.domain.statuses import CampaignStatus
from tests.support import receive_all


def test_provisioning_twice_changes_nothing(settings: Settings, topology: Report) -> None:
    assert {kind for _, kind, _ in topology.changed} == {
        "ses-identity",
        "ses-config-set",
        "ses-event-dest",
        "topic",
        "queue",
        "queue-policy",
        "subscription",
    }

    again = provision(settings)

    assert again.changed == []
    assert again.queue_urls == topology.queue_urls
    names = [name for _, kind, name in again.actions if kind != "ses-identity"]
    assert all(name.startswith(f"{settings.env}-dripr-") for name in names)
    assert ("unchanged", "ses-identity", "dripr.example") in again.actions


def test_a_second_environment_provisions_beside_the_first(
    settings: Settings, topology: Report, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two environments on one emulator (moto keeps event-destination names account-wide);
    the second with the email sender's queue tuned (DRIPR_QUEUES)."""
    monkeypatch.setenv(
        "DRIPR_QUEUES",
        '{"email-sender": {"visibility_timeout": 45, "max_receive_count": 8,'
        ' "retention_seconds": 7200, "dlq_retention_seconds": 86400}}',
    )
    changed = Settings(
        database_url=settings.database_url,
        aws_endpoint_url=settings.aws_endpoint_url,
        env=f"{settings.env}x",
    )
    other = provision(changed)

    assert ("created", "ses-event-dest") in {(change, kind) for change, kind, _ in other.changed}
    assert set(other.queue_urls.values()).isdisjoint(topology.queue_urls.values())
    sqs = sync_client("sqs", settings)
    attributes = {
        name: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        for name, url in other.queue_urls.items()
    }
    sender = attributes.pop("email-sender")
    assert (sender["VisibilityTimeout"], sender["MessageRetentionPeriod"]) == ("45", "7200")
    assert int(json.loads(sender["RedrivePolicy"])["maxReceiveCount"]) == 8
    dlq = sqs.get_queue_attributes(
        QueueUrl=other.dlq_urls["email-sender"], AttributeNames=["MessageRetentionPeriod"]
    )
    assert dlq["Attributes"]["MessageRetentionPeriod"] == "86400"
    assert {a["VisibilityTimeout"] for a in attributes.values()} == {"30"}
    assert {
        int(json.loads(a["RedrivePolicy"])["maxReceiveCount"]) for a in attributes.values()
    } == {5}


def test_provisioning_repairs_drift(settings: Settings, topology: Report) -> None:
    sqs = sync_client("sqs", settings)
    sqs.set_queue_attributes(
        QueueUrl=topology.queue_urls["intro"], Attributes={"VisibilityTimeout": "7"}
    )

    again = provision(settings)

    # moto drops a queue's Policy on any SetQueueAttributes, so the policy may be re-applied too.
    assert ("updated", "queue") in [(a, k) for a, k, _ in again.changed]
    assert provision(settings).changed == []
    attributes = sqs.get_queue_attributes(
        QueueUrl=topology.queue_urls["intro"], AttributeNames=["VisibilityTimeout"]
    )
    assert attributes["Attributes"]["VisibilityTimeout"] == str(
        TOPOLOGY.queue("intro").visibility_timeout
    )


async def test_every_to_status_reaches_exactly_its_queues(
    runtime: Runtime, topology: Report
) -> None:
    for status in CampaignStatus:
        await runtime.publisher.publish(
            StatusChange(campaign_id=1, cycle=1, from_status="DORMANT", to_status=status)
        )

    delivered: dict[str, set[str]] = {}
    for spec in TOPOLOGY.queues:
        messages = await receive_all(runtime.sqs, topology.queue_urls[spec.name], rounds=5)
        delivered[spec.name] = {json.loads(m["Body"])["to_status"] for m in messages}
        for message in messages:  # raw delivery: the body is the event, attributes alongside
            assert message["MessageAttributes"]["event_type"]["StringValue"] == "STATUS_CHANGE"
            assert len(messages) == len(spec.to_statuses)

    for status in CampaignStatus:
        receivers = {name for name, statuses in delivered.items() if status.value in statuses}
        assert receivers == TOPOLOGY.receivers_of(status), status
    assert TOPOLOGY.receivers_of(CampaignStatus.WAITING_FOR_DATA) == {
        "property",
        "active-listings",
        "recent-sales",
        "local-market",
        "intro",
    }
    assert TOPOLOGY.receivers_of(CampaignStatus.DORMANT) == set()


async def test_dead_letter_queues_are_wired_by_redrive_policy(
    runtime: Runtime, topology: Report
) -> None:
    for spec in TOPOLOGY.queues:
        attributes = (
            await runtime.sqs.get_queue_attributes(
                QueueUrl=topology.queue_urls[spec.name], AttributeNames=["All"]
            )
        )["Attributes"]
        policy = json.loads(attributes["RedrivePolicy"])
        assert policy["deadLetterTargetArn"].endswith(f"{runtime.names.dlq(spec)}")
        assert int(policy["maxReceiveCount"]) == spec.max_receive_count
        assert int(attributes["VisibilityTimeout"]) == spec.visibility_timeout
