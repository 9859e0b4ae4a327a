"""The production topology as a CloudFormation template, generated from the topology's data.

One source of truth: the same data that `dripr provision` applies to an emulator becomes the
template for AWS, with what only production needs on top: alarms on each dead-letter queue's depth
and each queue's oldest message, and one least-privilege IAM role per service (receive, delete and
change visibility on its own queues only, send to its own DLQs, publish to the topic, and the one
third-party permission its work needs). `python -m infra.cloudformation` prints it;
infra/cloudformation.json is the committed copy, checked by cfn-lint in the tests. It stays one
module past 250 lines because each resource's builder sits next to the ones it references.
"""

from __future__ import annotations

import json
from typing import Any

from infra import compute, iam, parameters
from infra.names import ECS_TASKS_MAY_ASSUME, logical
from infra.provision import SES_EVENT_TYPES
from shared.adapters.topology import TOPOLOGY, QueueSpec, Topology, topic_may_send

OLDEST_MESSAGE_ALARM_SECONDS = 900
KEEP = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
"""On what holds state (messages, the verified identity): deleting the stack keeps them."""


def _ref(logical: str) -> dict[str, str]:
    return {"Ref": logical}


def _arn(logical: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical, "Arn"]}


def _name(suffix: str) -> dict[str, str]:
    return {"Fn::Sub": f"${{Environment}}-dripr-{suffix}"}


def _tuning(field: str, spec: QueueSpec) -> dict[str, str]:
    """The queue's deploy-time parameter for one QueueTuning field."""
    return _ref(parameters.tuning_parameter(field, spec))


def _queue_resources(spec: QueueSpec) -> dict[str, Any]:
    queue, dlq = f"{logical(spec.name)}Queue", f"{logical(spec.name)}DeadLetterQueue"
    topic = "FeedbackTopic" if spec.from_ses else "StatusChangeTopic"
    subscription: dict[str, Any] = {
        "TopicArn": _ref(topic),
        "Protocol": "sqs",
        "Endpoint": _arn(queue),
        # SES's notifications arrive inside SNS's envelope; dripr's events are delivered raw
        "RawMessageDelivery": not spec.from_ses,
    }
    if not spec.from_ses:
        subscription["FilterPolicy"] = json.loads(spec.filter_policy())
    dimension = [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}]
    age_dimension = [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    return {
        dlq: {
            "Type": "AWS::SQS::Queue",
            **KEEP,
            "Properties": {
                "QueueName": _name(f"{spec.name}-dlq"),
                "MessageRetentionPeriod": _tuning("dlq_retention_seconds", spec),
            },
        },
        queue: {
            "Type": "AWS::SQS::Queue",
            **KEEP,
            "Properties": {
                "QueueName": _name(spec.name),
                "VisibilityTimeout": _tuning("visibility_timeout", spec),
                "MessageRetentionPeriod": _tuning("retention_seconds", spec),
                "ReceiveMessageWaitTimeSeconds": 20,
                "RedrivePolicy": {
                    "deadLetterTargetArn": _arn(dlq),
                    "maxReceiveCount": _tuning("max_receive_count", spec),
                },
            },
        },
        f"{queue}Policy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [_ref(queue)],
                "PolicyDocument": topic_may_send(_arn(queue), _ref(topic)),
            },
        },
        f"{queue}Subscription": {"Type": "AWS::SNS::Subscription", "Properties": subscription},
        f"{dlq}DepthAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": f"Messages dead-lettered by {spec.service} ({spec.name})",
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": dimension,
                "Statistic": "Maximum",
                "Period": 60,
                "EvaluationPeriods": 1,
                "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [_ref("AlarmTopic")],
            },
        },
        f"{queue}AgeAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": f"{spec.name}: oldest message waiting too long (paused?)",
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateAgeOfOldestMessage",
                "Dimensions": age_dimension,
                "Statistic": "Maximum",
                "Period": 60,
                "EvaluationPeriods": 5,
                "Threshold": OLDEST_MESSAGE_ALARM_SECONDS,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [_ref("AlarmTopic")],
            },
        },
    }


def _resolve(resource: iam.Resource) -> Any:
    """A resource of infra/iam.py as the template refers to it."""
    if isinstance(resource, iam.Queue):
        kind = "DeadLetterQueue" if resource.dead_letters else "Queue"
        return _arn(f"{logical(resource.name)}{kind}")
    region = "arn:${AWS::Partition}:%s:${AWS::Region}"
    return {
        iam.TOPIC: _ref("StatusChangeTopic"),
        iam.ANY: "*",
        iam.SES_IDENTITY: {
            "Fn::Sub": region % "ses" + ":${AWS::AccountId}:identity/${SenderDomain}"
        },
        iam.SES_CONFIGURATION_SET: {
            "Fn::Sub": region % "ses"
            + ":${AWS::AccountId}:configuration-set/${MailConfigurationSet}"
        },
        iam.BEDROCK_MODEL: {"Fn::Sub": region % "bedrock" + "::foundation-model/${BedrockModelId}"},
    }[resource]


def _role(service: str, topology: Topology) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": _name(f"{service.replace('_', '-')}-role"),
            "AssumeRolePolicyDocument": ECS_TASKS_MAY_ASSUME,
            "Policies": [
                {
                    "PolicyName": f"dripr-{service.replace('_', '-')}",
                    "PolicyDocument": iam.policy(service, _resolve, topology),
                }
            ],
        },
    }


def template(topology: Topology = TOPOLOGY) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "StatusChangeTopic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {"TopicName": _name(topology.topic)},
        },
        "AlarmTopic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {"TopicName": _name("alarms")},
        },
    }
    for spec in topology.queues:
        resources |= _queue_resources(spec)
    for service in iam.services(topology):
        resources[f"{logical(service)}Role"] = _role(service, topology)
    resources |= _mail_resources(topology)
    resources |= compute.resources(topology)
    stack_parameters: dict[str, Any] = {
        "Environment": {
            "Type": "String",
            "Default": "prod",
            "AllowedPattern": "^[a-z0-9][a-z0-9-]{0,20}$",
            "Description": "prefix of every name (DRIPR_ENV)",
        },
        "SenderDomain": {
            "Type": "String",
            "AllowedPattern": "^[a-z0-9.-]+\\.[a-z]{2,}$",
            "Description": "the domain newsletters are sent from (DRIPR_SENDER_EMAIL's)",
        },
        "BedrockModelId": {
            "Type": "String",
            "Default": "anthropic.claude-3-5-haiku-20241022-v1:0",
            "Description": "the one model the intro and home report may invoke",
        },
        **parameters.PARAMETERS,
        **parameters.QUEUE_PARAMETERS,
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "dripr: the STATUS_CHANGE topic, a queue and DLQ per consumer, every "
        "service on ECS Fargate under its own role, the database, SES, alarms",
        "Metadata": {"AWS::CloudFormation::Interface": parameters.interface(stack_parameters)},
        "Parameters": stack_parameters,
        "Conditions": parameters.CONDITIONS,
        "Resources": resources,
        "Outputs": {
            "StatusChangeTopicArn": {"Value": _ref("StatusChangeTopic")},
            "FeedbackTopicArn": {"Value": _ref("FeedbackTopic")},
            "ApiUrl": {"Value": {"Fn::Sub": "https://${ApiLoadBalancer.DNSName}"}},
            "ClusterName": {"Value": _ref("Cluster")},
            "MigrateTaskDefinition": {"Value": _ref("MigrateTask")},
            **{
                f"{logical(s.name)}QueueUrl": {"Value": _ref(f"{logical(s.name)}Queue")}
                for s in topology.queues
            },
        },
    }


def _mail_resources(topology: Topology) -> dict[str, Any]:
    """The sender identity (Easy DKIM), the configuration set every email goes out with, and
    its event destination: SES publishes sends, deliveries, bounces, complaints and rejects to
    the feedback topic, which only SES, for this account, may publish to."""
    return {
        "FeedbackTopic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {"TopicName": _name(topology.feedback_topic)},
        },
        "FeedbackTopicPolicy": {
            "Type": "AWS::SNS::TopicPolicy",
            "Properties": {
                "Topics": [_ref("FeedbackTopic")],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AllowSesFeedback",
                            "Effect": "Allow",
                            "Principal": {"Service": "ses.amazonaws.com"},
                            "Action": "sns:Publish",
                            "Resource": _ref("FeedbackTopic"),
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": _ref("AWS::AccountId")}
                            },
                        }
                    ],
                },
            },
        },
        "MailConfigurationSet": {
            "Type": "AWS::SES::ConfigurationSet",
            "Properties": {"Name": _name("mail")},
        },
        "MailFeedbackDestination": {
            "Type": "AWS::SES::ConfigurationSetEventDestination",
            "Properties": {
                "ConfigurationSetName": _ref("MailConfigurationSet"),
                "EventDestination": {
                    "Name": "feedback",
                    "Enabled": True,
                    "MatchingEventTypes": list(SES_EVENT_TYPES),
                    "SnsDestination": {"TopicARN": _ref("FeedbackTopic")},
                },
            },
        },
        "SenderIdentity": {
            "Type": "AWS::SES::EmailIdentity",
            **KEEP,
            "Properties": {
                "EmailIdentity": _ref("SenderDomain"),
                "ConfigurationSetAttributes": {
                    "ConfigurationSetName": _ref("MailConfigurationSet")
                },
                "DkimSigningAttributes": {"NextSigningKeyLength": "RSA_2048_BIT"},
            },
        },
    }


def render() -> str:
    return json.dumps(template(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
