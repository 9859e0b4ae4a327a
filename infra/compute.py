"""The stack's compute: ECS on Fargate, one task definition and service per dripr service.

Every service runs the one image with its own command, its own task role (infra/iam.py) and
its own log group; secrets come from Secrets Manager through the execution role. Consumers
scale on their queue's backlog per task (target tracking on a metric-math expression, as AWS
guides for SQS workers); the scheduler runs one task; the control API sits behind an HTTPS
load balancer. The database is an existing MySQL endpoint or an Aurora MySQL cluster
(`DatabaseMode`), its password never in the template.
"""

from __future__ import annotations

from typing import Any

from infra import database, iam, network, scaling
from infra.names import ECS_TASKS_MAY_ASSUME, logical, sub
from infra.network import API_PORT
from shared.adapters.topology import TOPOLOGY, Topology

STOP_TIMEOUT_SECONDS = 30
"""SIGTERM, then this long to drain (DRIPR_SHUTDOWN_GRACE_SECONDS is 20) before SIGKILL."""
SIZES = {"email_sender": ("512", "1024"), "control_api": ("512", "1024")}
"""cpu, memory per task; the rest run in the smallest Fargate size."""
SMALL = ("256", "512")
PROBE_PORT = 9464
"""Every service's /metrics, /livez and /readyz (DRIPR_PROBE_PORT)."""
HEALTH_CHECK = {
    "Command": ["CMD", "dripr", "probe", "livez"],
    "Interval": 30,
    "Timeout": 10,
    "Retries": 3,
    "StartPeriod": 60,
}
"""ECS restarts a task whose loops stop going round (the bound is DRIPR_LIVENESS_SECONDS)."""
USES_BEDROCK = ("intro", "home_report")


def _environment(service: str) -> list[dict[str, Any]]:
    values: dict[str, Any] = {
        "DRIPR_ENV": {"Ref": "Environment"},
        "DRIPR_TOPIC_ARN": {"Ref": "StatusChangeTopic"},
        "DATABASE_URL": {
            "Fn::Join": [
                "",
                [
                    "mysql+asyncmy://",
                    {"Ref": "DatabaseUser"},
                    "@",
                    database.HOST,
                    ":3306/",
                    {"Ref": "DatabaseName"},
                ],
            ]
        },
        "DRIPR_SENDER_EMAIL": sub("newsletters@${SenderDomain}"),
        "DRIPR_SES_CONFIGURATION_SET": {"Ref": "MailConfigurationSet"},
        "DRIPR_PUBLIC_BASE_URL": {"Ref": "PublicBaseUrl"},
        "DRIPR_POSTAL_ADDRESS": {"Ref": "PostalAddress"},
        "DRIPR_LOG_FORMAT": "json",
        "DRIPR_PROBE_PORT": str(PROBE_PORT),
    }
    if service in USES_BEDROCK:
        values |= {"DRIPR_LLM": "bedrock", "DRIPR_BEDROCK_MODEL_ID": {"Ref": "BedrockModelId"}}
    if service == "control_api":
        values |= {
            "DRIPR_API_HOST": "0.0.0.0",
            "DRIPR_API_PORT": str(API_PORT),
            # behind the load balancer, which terminates TLS and alone reaches the task (its
            # security group): believe its X-Forwarded-Proto, so cookies stay Secure
            "DRIPR_API_FORWARDED_ALLOW_IPS": "*",
        }
    listed: list[dict[str, Any]] = [
        {"Name": name, "Value": value} for name, value in sorted(values.items())
    ]
    otlp = {"Name": "OTEL_EXPORTER_OTLP_ENDPOINT", "Value": {"Ref": "OtlpEndpoint"}}
    return [*listed, {"Fn::If": ["HasOtlpEndpoint", otlp, {"Ref": "AWS::NoValue"}]}]


def _secrets(service: str) -> list[dict[str, Any]]:
    secrets = [
        {"Name": "DRIPR_DATABASE_PASSWORD", "ValueFrom": database.PASSWORD},
        {"Name": "DRIPR_UNSUBSCRIBE_SECRET", "ValueFrom": {"Ref": "UnsubscribeSecretArn"}},
    ]
    if service == "control_api":
        secrets.append({"Name": "DRIPR_API_TOKEN", "ValueFrom": {"Ref": "ApiTokenSecretArn"}})
    return secrets


def _task(service: str) -> dict[str, Any]:
    cpu, memory = SIZES.get(service, SMALL)
    container: dict[str, Any] = {
        "Name": service,
        "Image": {"Ref": "ImageUri"},
        "Command": [service],
        "Essential": True,
        "StopTimeout": STOP_TIMEOUT_SECONDS,
        "Environment": _environment(service),
        "Secrets": _secrets(service),
        "LogConfiguration": {
            "LogDriver": "awslogs",
            "Options": {
                "awslogs-group": {"Ref": f"{logical(service)}Logs"},
                "awslogs-region": {"Ref": "AWS::Region"},
                "awslogs-stream-prefix": service,
            },
        },
    }
    container["PortMappings"] = [{"ContainerPort": PROBE_PORT, "Protocol": "tcp"}]
    container["HealthCheck"] = HEALTH_CHECK
    if service == "control_api":
        container["PortMappings"].insert(0, {"ContainerPort": API_PORT, "Protocol": "tcp"})
    return {
        "Type": "AWS::ECS::TaskDefinition",
        "Properties": {
            "Family": sub(f"${{Environment}}-dripr-{service.replace('_', '-')}"),
            "RequiresCompatibilities": ["FARGATE"],
            "NetworkMode": "awsvpc",
            "Cpu": cpu,
            "Memory": memory,
            "ExecutionRoleArn": {"Fn::GetAtt": ["ExecutionRole", "Arn"]},
            "TaskRoleArn": {"Fn::GetAtt": [f"{logical(service)}Role", "Arn"]},
            "ContainerDefinitions": [container],
        },
    }


def _service(service: str) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "Cluster": {"Ref": "Cluster"},
        "TaskDefinition": {"Ref": f"{logical(service)}Task"},
        "LaunchType": "FARGATE",
        "DesiredCount": 1,
        "DeploymentConfiguration": {
            "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
            "MinimumHealthyPercent": 100,
            "MaximumPercent": 200,
        },
        "NetworkConfiguration": {
            "AwsvpcConfiguration": {
                "Subnets": {"Ref": "PrivateSubnetIds"},
                "SecurityGroups": [{"Ref": "TaskSecurityGroup"}],
                "AssignPublicIp": "DISABLED",
            }
        },
    }
    resource: dict[str, Any] = {"Type": "AWS::ECS::Service", "Properties": properties}
    if service == "control_api":
        properties["LoadBalancers"] = [
            {
                "ContainerName": service,
                "ContainerPort": API_PORT,
                "TargetGroupArn": {"Ref": "ApiTargets"},
            }
        ]
        properties["HealthCheckGracePeriodSeconds"] = 60
        resource["DependsOn"] = ["ApiListener"]
    return resource


def _execution_role() -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": ECS_TASKS_MAY_ASSUME,
            "ManagedPolicyArns": [
                sub(
                    "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
                )
            ],
            "Policies": [
                {
                    "PolicyName": "read-dripr-secrets",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["secretsmanager:GetSecretValue"],
                                "Resource": [
                                    {"Ref": "ApiTokenSecretArn"},
                                    {"Ref": "UnsubscribeSecretArn"},
                                    *database.SECRETS,
                                ],
                            }
                        ],
                    },
                }
            ],
        },
    }


def _migrate_task() -> dict[str, Any]:
    """`dripr migrate` as a one-off task (aws ecs run-task): the image with another entrypoint."""
    task = _task("scheduler")
    properties = task["Properties"]
    properties["Family"] = sub("${Environment}-dripr-migrate")
    (container,) = properties["ContainerDefinitions"]
    container |= {"Name": "migrate", "EntryPoint": ["dripr"], "Command": ["migrate"]}
    container["Secrets"] = [
        s for s in container["Secrets"] if s["Name"] == "DRIPR_DATABASE_PASSWORD"
    ]
    container["LogConfiguration"]["Options"]["awslogs-stream-prefix"] = "migrate"
    del container["HealthCheck"], container["PortMappings"]  # a one-shot job serves nothing
    del properties["TaskRoleArn"]  # it needs the database, and nothing of AWS's
    return task


def resources(topology: Topology = TOPOLOGY) -> dict[str, Any]:
    found: dict[str, Any] = {
        "Cluster": {
            "Type": "AWS::ECS::Cluster",
            "Properties": {
                "ClusterName": sub("${Environment}-dripr"),
                "ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}],
            },
        },
        "ExecutionRole": _execution_role(),
        "AlarmEmailSubscription": {
            "Type": "AWS::SNS::Subscription",
            "Condition": "HasAlarmEmail",
            "Properties": {
                "TopicArn": {"Ref": "AlarmTopic"},
                "Protocol": "email",
                "Endpoint": {"Ref": "AlarmEmail"},
            },
        },
        "MigrateTask": _migrate_task(),
        **network.resources(),
        **database.resources(),
    }
    consumers = {spec.service for spec in topology.queues}
    for service in iam.services(topology):
        found[f"{logical(service)}Logs"] = {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "LogGroupName": sub(f"/dripr/${{Environment}}/{service}"),
                "RetentionInDays": {"Ref": "LogRetentionDays"},
            },
        }
        found[f"{logical(service)}Task"] = _task(service)
        found[f"{logical(service)}Service"] = _service(service)
        if service in consumers:
            found |= scaling.backlog_scaling(service, topology)
    return found
