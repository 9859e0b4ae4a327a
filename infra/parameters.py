"""The stack's parameters and conditions: what a user chooses when deploying it (docs/deploy.md)."""

from __future__ import annotations

from typing import Any

from shared.adapters.topology import MIN_VISIBILITY_TIMEOUT, TOPOLOGY, QueueSpec


def visibility_parameter(spec: QueueSpec) -> str:
    """The parameter of a queue's visibility timeout: `email-sender` → VisibilityEmailSender."""
    return "Visibility" + "".join(part.capitalize() for part in spec.name.split("-"))


VISIBILITY_PARAMETERS: dict[str, Any] = {
    visibility_parameter(spec): {
        "Type": "Number",
        "Default": spec.visibility_timeout,
        "MinValue": MIN_VISIBILITY_TIMEOUT,
        "MaxValue": 43200,
        "Description": f"seconds a received {spec.name} message stays hidden if its handler "
        "dies (the heartbeat holds it while the handler lives)",
    }
    for spec in TOPOLOGY.queues
}

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
