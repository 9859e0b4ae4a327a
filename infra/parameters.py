"""The stack's parameters and conditions: what a user chooses when deploying it (docs/deploy.md)."""

from __future__ import annotations

from typing import Any

from infra.names import logical
from shared.adapters.topology import TOPOLOGY, QueueSpec, QueueTuning

TUNING_PARAMETER_PREFIXES = {
    "visibility_timeout": "Visibility",
    "max_receive_count": "MaxReceive",
    "retention_seconds": "Retention",
    "dlq_retention_seconds": "DlqRetention",
}
"""QueueTuning field → the prefix of its per-queue parameter, as DRIPR_QUEUES sets it."""


def tuning_parameter(field: str, spec: QueueSpec) -> str:
    """A queue's parameter for one tuning: (`visibility_timeout`, email-sender) →
    VisibilityEmailSender."""
    return TUNING_PARAMETER_PREFIXES[field] + logical(spec.name)


def _bounds(field: str) -> dict[str, int]:
    """The field's own ge/le, as the parameter's MinValue/MaxValue."""
    bounds = {}
    for rule in QueueTuning.model_fields[field].metadata:
        for attribute, key in (("ge", "MinValue"), ("le", "MaxValue")):
            if getattr(rule, attribute, None) is not None:
                bounds[key] = int(getattr(rule, attribute))
    return bounds


QUEUE_PARAMETERS: dict[str, Any] = {
    tuning_parameter(field, spec): {
        "Type": "Number",
        "Default": getattr(spec, field),
        **_bounds(field),
        "Description": f"{spec.name}: {QueueTuning.model_fields[field].description}",
    }
    for field in TUNING_PARAMETER_PREFIXES
    for spec in TOPOLOGY.queues
}
"""Every QueueTuning field of every queue, defaulting to the topology's value."""


def interface(stack_parameters: dict[str, Any]) -> dict[str, Any]:
    """How the console groups the parameters: the deployment's first, then one group per queue
    tuning (each queue's visibility timeouts together, and so on)."""
    deployment = [name for name in stack_parameters if name not in QUEUE_PARAMETERS]
    groups = [{"Label": {"default": "Deployment"}, "Parameters": deployment}]
    for field in TUNING_PARAMETER_PREFIXES:
        groups.append(
            {
                "Label": {"default": f"Queues: {field.replace('_', ' ')}"},
                "Parameters": [tuning_parameter(field, spec) for spec in TOPOLOGY.queues],
            }
        )
    return {"ParameterGroups": groups}


PARAMETERS: dict[str, Any] = {
    "ImageUri": {"Type": "String", "Description": "the dripr image (ECR URI with tag or digest)"},
    "VpcId": {"Type": "AWS::EC2::VPC::Id"},
    "PrivateSubnetIds": {
        "Type": "List<AWS::EC2::Subnet::Id>",
        "Description": "subnets of the tasks and the database (with a NAT or VPC endpoints)",
    },
    "PublicSubnetIds": {
        "Type": "List<AWS::EC2::Subnet::Id>",
        "Description": "subnets of the control API's load balancer",
    },
    "CertificateArn": {"Type": "String", "Description": "ACM certificate of the API's host"},
    "PublicBaseUrl": {
        "Type": "String",
        "AllowedPattern": "^https://.+",
        "Description": "https base of the unsubscribe links (the load balancer's DNS name)",
    },
    "PostalAddress": {
        "Type": "String",
        "MinLength": 10,
        "Description": "the sender's postal address, in every email's footer (CAN-SPAM)",
    },
    "ApiTokenSecretArn": {"Type": "String", "Description": "Secrets Manager: the API token"},
    "UnsubscribeSecretArn": {
        "Type": "String",
        "Description": "Secrets Manager: the unsubscribe-link signing key (32+ bytes)",
    },
    "DatabaseMode": {
        "Type": "String",
        "AllowedValues": ["existing", "aurora"],
        "Default": "existing",
        "Description": "an existing MySQL 8 endpoint, or a new Aurora MySQL Serverless v2 cluster",
    },
    "DatabaseHost": {"Type": "String", "Default": "", "Description": "existing mode: host"},
    "DatabaseSecretArn": {
        "Type": "String",
        "Default": "",
        "Description": "existing mode: Secrets Manager secret with a `password` key",
    },
    "DatabaseName": {"Type": "String", "Default": "dripr"},
    "DatabaseUser": {"Type": "String", "Default": "dripr"},
    "AlarmEmail": {
        "Type": "String",
        "Default": "",
        "Description": "who the alarm topic emails (empty: subscribe something yourself)",
    },
    "OtlpEndpoint": {
        "Type": "String",
        "Default": "",
        "Description": "OTLP/HTTP endpoint for traces and metrics, e.g. an ADOT collector "
        "(http://adot.internal:4318); empty: none exported, /metrics still served",
    },
    "MaxTasks": {"Type": "Number", "Default": 10, "MinValue": 1, "MaxValue": 100},
    "BacklogPerTask": {
        "Type": "Number",
        "Default": 100,
        "MinValue": 1,
        "Description": "visible messages per consumer task that scaling aims for",
    },
    "LogRetentionDays": {
        "Type": "Number",
        "Default": 30,
        "AllowedValues": [1, 3, 5, 7, 14, 30, 60, 90, 180, 365],
    },
}

CONDITIONS: dict[str, Any] = {
    "UseAurora": {"Fn::Equals": [{"Ref": "DatabaseMode"}, "aurora"]},
    "HasAlarmEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]},
    "HasDatabaseSecret": {"Fn::Not": [{"Fn::Equals": [{"Ref": "DatabaseSecretArn"}, ""]}]},
    "HasOtlpEndpoint": {"Fn::Not": [{"Fn::Equals": [{"Ref": "OtlpEndpoint"}, ""]}]},
}
