"""The production template: generated from the topology, committed, valid, least privilege."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from infra.cloudformation import render, template
from shared.adapters.topology import TOPOLOGY

COMMITTED = Path(__file__).parents[2] / "infra" / "cloudformation.json"


def test_the_committed_template_is_the_generated_one() -> None:
    assert COMMITTED.read_text() == render(), (
        "run: python -m infra.cloudformation > infra/cloudformation.json"
    )


def test_cfn_lint_accepts_it() -> None:
    lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(lint), str(COMMITTED)], capture_output=True, text=True)

    assert result.returncode == 0, result.stdout + result.stderr


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = role["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    return statements


def test_each_service_role_reaches_only_its_own_queues() -> None:
    resources = template()["Resources"]
    for service in {spec.service for spec in TOPOLOGY.queues}:
        role = resources["".join(p.capitalize() for p in service.split("_")) + "Role"]
        touched = {
            json.dumps(resource)
            for statement in _statements(role)
            if any(action.startswith("sqs:") for action in statement["Action"])
            for resource in statement["Resource"]
        }
        own = {spec.name for spec in TOPOLOGY.queues_of(service)}
        for spec in TOPOLOGY.queues:
            mentions = any(
                f'"{"".join(p.capitalize() for p in spec.name.split("-"))}' in t for t in touched
            )
            assert mentions == (spec.name in own), (service, spec.name)
        publishes = [s for s in _statements(role) if s["Action"] == ["sns:Publish"]]
        if service == "feedback":  # it records SES's word and emits nothing
            assert not publishes
            continue
        assert publishes and publishes[0]["Resource"] == [{"Ref": "StatusChangeTopic"}]


def test_every_queue_has_its_filter_dlq_and_alarms() -> None:
    resources = template()["Resources"]
    for spec in TOPOLOGY.queues:
        name = "".join(p.capitalize() for p in spec.name.split("-"))
        subscription = resources[f"{name}QueueSubscription"]["Properties"]
        if spec.from_ses:  # SES's notifications, in SNS's envelope, every one of them
            assert subscription["TopicArn"] == {"Ref": "FeedbackTopic"}
            assert subscription["RawMessageDelivery"] is False
            assert "FilterPolicy" not in subscription
        else:
            assert subscription["TopicArn"] == {"Ref": "StatusChangeTopic"}
            assert subscription["RawMessageDelivery"] is True
            assert subscription["FilterPolicy"]["to_status"] == [s.value for s in spec.to_statuses]
        redrive = resources[f"{name}Queue"]["Properties"]["RedrivePolicy"]
        assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": [f"{name}DeadLetterQueue", "Arn"]}
        assert f"{name}DeadLetterQueueDepthAlarm" in resources
        assert f"{name}QueueAgeAlarm" in resources


def test_each_queue_s_tuning_is_a_parameter_of_its_own_with_sqs_s_bounds() -> None:
    """Visibility 30 s by default (dead work back within 30 s; the heartbeat holds live work),
    receive count, retention of the queue and its DLQ: each settable per queue at deploy time
    within what SQS and the heartbeat allow, as DRIPR_QUEUES sets them for `dripr provision`."""
    built = template()
    groups = built["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [name for group in groups for name in group["Parameters"]]
    assert sorted(grouped) == sorted(built["Parameters"]), "every parameter in one group"
    for spec in TOPOLOGY.queues:
        name = "".join(p.capitalize() for p in spec.name.split("-"))
        queue = built["Resources"][f"{name}Queue"]["Properties"]
        dlq = built["Resources"][f"{name}DeadLetterQueue"]["Properties"]
        assert queue["VisibilityTimeout"] == {"Ref": f"Visibility{name}"}
        assert queue["RedrivePolicy"]["maxReceiveCount"] == {"Ref": f"MaxReceive{name}"}
        assert queue["MessageRetentionPeriod"] == {"Ref": f"Retention{name}"}
        assert dlq["MessageRetentionPeriod"] == {"Ref": f"DlqRetention{name}"}
        for parameter, expected in (
            (f"Visibility{name}", (30, 10, 43200)),
            (f"MaxReceive{name}", (5, 1, 1000)),
            (f"Retention{name}", (4 * 86400, 60, 14 * 86400)),
            (f"DlqRetention{name}", (14 * 86400, 60, 14 * 86400)),
        ):
            found = built["Parameters"][parameter]
            assert (found["Default"], found["MinValue"], found["MaxValue"]) == expected
            assert found["Description"].startswith(f"{spec.name}: ")


def _grants(role: str) -> dict[str, set[str]]:
    """Action → the resources (as JSON) a role grants it on."""
    grants: dict[str, set[str]] = {}
    for statement in _statements(template()["Resources"][role]):
        for action in statement["Action"]:
            grants.setdefault(action, set()).update(json.dumps(r) for r in statement["Resource"])
    return grants


def _queue(logical: str) -> str:
    return json.dumps({"Fn::GetAtt": [logical, "Arn"]})


def test_no_role_is_granted_anything_on_every_resource() -> None:
    for role in (
        "SchedulerRole",
        "ControlApiRole",
        "EmailSenderRole",
        "IntroRole",
        "HomeReportRole",
        "FeedbackRole",
    ):
        for action, resources in _grants(role).items():
            if action == "ses:GetSendQuota":  # an account-wide read that takes no resource
                continue
            assert '"*"' not in resources, (role, action)


def test_only_ses_may_publish_to_the_feedback_topic_and_its_events_go_there() -> None:
    resources = template()["Resources"]
    (statement,) = resources["FeedbackTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    destination = resources["MailFeedbackDestination"]["Properties"]["EventDestination"]

    assert statement["Principal"] == {"Service": "ses.amazonaws.com"}
    assert statement["Action"] == "sns:Publish"
    assert destination["SnsDestination"] == {"TopicARN": {"Ref": "FeedbackTopic"}}
    assert {"send", "bounce", "complaint", "delivery"} <= set(destination["MatchingEventTypes"])


def test_the_scheduler_may_resend_send_batches_to_the_sender_queue_for_the_sweep() -> None:
    grants = _grants("SchedulerRole")

    assert grants["sqs:SendMessage"] == {_queue("EmailSenderQueue")}
    assert "sqs:ReceiveMessage" not in grants and "sqs:DeleteMessage" not in grants


def test_the_control_api_may_not_drain_a_live_queue() -> None:
    grants = _grants("ControlApiRole")

    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"):
        assert grants[action] and all("DeadLetterQueue" in r for r in grants[action]), action
    assert grants["sqs:SendMessage"] == {_queue("EmailSenderQueue")}


def test_no_consumer_may_take_messages_off_a_dead_letter_queue() -> None:
    for role in ("IntroRole", "EmailSenderRole", "DataFetcherRole"):
        assert not any("DeadLetterQueue" in r for r in _grants(role)["sqs:ReceiveMessage"]), role


def test_ses_and_bedrock_are_scoped_to_the_identity_the_configuration_set_and_the_model() -> None:
    ses = _grants("EmailSenderRole")["ses:SendEmail"]
    bedrock = _grants("IntroRole")["bedrock:InvokeModel"]

    assert len(ses) == 2
    assert any("identity/${SenderDomain}" in r for r in ses)
    assert any("configuration-set/${MailConfigurationSet}" in r for r in ses)
    assert bedrock == {
        json.dumps(
            {
                "Fn::Sub": "arn:${AWS::Partition}:bedrock:${AWS::Region}::"
                "foundation-model/${BedrockModelId}"
            }
        )
    }
    assert "ses:SendEmail" not in _grants("IntroRole")
    assert "bedrock:InvokeModel" not in _grants("EmailSenderRole")


def test_what_holds_state_survives_deleting_the_stack() -> None:
    resources = template()["Resources"]
    stateful = [
        n
        for n, r in resources.items()
        if r["Type"] in ("AWS::SQS::Queue", "AWS::SES::EmailIdentity")
    ]

    assert stateful
    for name in stateful:
        assert (
            resources[name]["DeletionPolicy"] == resources[name]["UpdateReplacePolicy"] == "Retain"
        )


def test_every_service_runs_on_fargate_under_its_own_role_with_its_own_logs() -> None:
    resources = template()["Resources"]
    for service in (
        "scheduler",
        "data_fetcher",
        "intro",
        "home_report",
        "email_creation",
        "email_sender",
        "control_api",
    ):
        name = "".join(p.capitalize() for p in service.split("_"))
        task = resources[f"{name}Task"]["Properties"]
        (container,) = task["ContainerDefinitions"]
        assert task["RequiresCompatibilities"] == ["FARGATE"]
        assert task["TaskRoleArn"] == {"Fn::GetAtt": [f"{name}Role", "Arn"]}
        assert container["Command"] == [service]
        assert container["StopTimeout"] >= 30  # the drain needs DRIPR_SHUTDOWN_GRACE_SECONDS
        assert container["LogConfiguration"]["Options"]["awslogs-group"] == {"Ref": f"{name}Logs"}
        assert resources[f"{name}Logs"]["Properties"]["RetentionInDays"] == {
            "Ref": "LogRetentionDays"
        }
        assert resources[f"{name}Service"]["Properties"]["TaskDefinition"] == {"Ref": f"{name}Task"}
        environment = {e["Name"]: e["Value"] for e in container["Environment"] if "Name" in e}
        assert environment["DRIPR_TOPIC_ARN"] == {"Ref": "StatusChangeTopic"}
        # Its probe endpoint is the container's health check, and exported traces are opt-in.
        assert environment["DRIPR_PROBE_PORT"] == "9464"
        assert {"ContainerPort": 9464, "Protocol": "tcp"} in container["PortMappings"]
        assert container["HealthCheck"]["Command"] == ["CMD", "dripr", "probe", "livez"]
        (otlp,) = [e for e in container["Environment"] if "Fn::If" in e]
        assert otlp["Fn::If"][0] == "HasOtlpEndpoint"
        assert otlp["Fn::If"][1]["Name"] == "OTEL_EXPORTER_OTLP_ENDPOINT"
        secrets = {s["Name"] for s in container["Secrets"]}
        assert {"DRIPR_DATABASE_PASSWORD", "DRIPR_UNSUBSCRIBE_SECRET"} <= secrets
        assert not secrets & set(environment), "a secret in plain environment"
        assert ("DRIPR_API_TOKEN" in secrets) == (service == "control_api")


def test_consumers_scale_on_their_own_queues_backlog_per_task() -> None:
    resources = template()["Resources"]
    for service in {spec.service for spec in TOPOLOGY.queues}:
        name = "".join(p.capitalize() for p in service.split("_"))
        policy = resources[f"{name}BacklogScaling"]["Properties"]
        config = policy["TargetTrackingScalingPolicyConfiguration"]
        metrics = config["CustomizedMetricSpecification"]["Metrics"]
        queues = [
            m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
            for m in metrics
            if m.get("MetricStat", {}).get("Metric", {}).get("Namespace") == "AWS/SQS"
        ]
        own = {
            "".join(p.capitalize() for p in s.name.split("-")) + "Queue"
            for s in TOPOLOGY.queues_of(service)
        }
        assert set(queues) == own, service
        (returned,) = [m for m in metrics if m["ReturnData"]]
        assert "/ MAX([tasks, 1])" in returned["Expression"]
        assert config["TargetValue"] == {"Ref": "BacklogPerTask"}
    assert (
        "SchedulerBacklogScaling" not in resources and "ControlApiBacklogScaling" not in resources
    )


def test_the_database_is_given_or_an_aurora_cluster_kept_as_a_snapshot() -> None:
    resources = template()["Resources"]

    assert resources["Database"]["Condition"] == "UseAurora"
    assert resources["Database"]["DeletionPolicy"] == "Snapshot"
    assert resources["Database"]["Properties"]["ManageMasterUserPassword"] is True
    assert "MasterUserPassword" not in resources["Database"]["Properties"]
    assert resources["AlarmEmailSubscription"]["Properties"]["TopicArn"] == {"Ref": "AlarmTopic"}
