"""Consumers scale on their queue's backlog per task, as AWS guides for SQS workers.

Target tracking on a metric-math expression: the visible messages of the service's queues
divided by its running tasks (Container Insights), aiming at `BacklogPerTask`.
"""

from __future__ import annotations

from typing import Any

from infra.names import logical, queue_name, sub
from shared.adapters.topology import Topology


def backlog_scaling(service: str, topology: Topology) -> dict[str, Any]:
    """Target tracking on (visible messages in the service's queues) / (its running tasks)."""
    queues = topology.queues_of(service)
    service_name = {"Fn::GetAtt": [f"{logical(service)}Service", "Name"]}
    metrics: list[dict[str, Any]] = [
        {
            "Id": f"q{i}",
            "ReturnData": False,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/SQS",
                    "MetricName": "ApproximateNumberOfMessagesVisible",
                    "Dimensions": [
                        {
                            "Name": "QueueName",
                            "Value": queue_name(q.name),
                        }
                    ],
                },
                "Stat": "Sum",
            },
        }
        for i, q in enumerate(queues)
    ]
    metrics.append(
        {
            "Id": "tasks",
            "ReturnData": False,
            "MetricStat": {
                "Metric": {
                    "Namespace": "ECS/ContainerInsights",
                    "MetricName": "RunningTaskCount",
                    "Dimensions": [
                        {"Name": "ClusterName", "Value": {"Ref": "Cluster"}},
                        {
                            "Name": "ServiceName",
                            "Value": service_name,
                        },
                    ],
                },
                "Stat": "Average",
            },
        }
    )
    backlog = " + ".join(m["Id"] for m in metrics[:-1])
    metrics.append(
        {
            "Id": "backlog_per_task",
            "Label": "backlog per task",
            "ReturnData": True,
            "Expression": f"({backlog}) / MAX([tasks, 1])",
        }
    )
    resource_id = {
        "Fn::Join": [
            "/",
            ["service", {"Ref": "Cluster"}, service_name],
        ]
    }
    return {
        f"{logical(service)}ScalableTarget": {
            "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
            "Properties": {
                "ServiceNamespace": "ecs",
                "ScalableDimension": "ecs:service:DesiredCount",
                "ResourceId": resource_id,
                "MinCapacity": 1,
                "MaxCapacity": {"Ref": "MaxTasks"},
            },
        },
        f"{logical(service)}BacklogScaling": {
            "Type": "AWS::ApplicationAutoScaling::ScalingPolicy",
            "Properties": {
                "PolicyName": sub(f"${{Environment}}-dripr-{service.replace('_', '-')}-backlog"),
                "PolicyType": "TargetTrackingScaling",
                "ScalingTargetId": {"Ref": f"{logical(service)}ScalableTarget"},
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": {"Ref": "BacklogPerTask"},
                    "ScaleInCooldown": 300,
                    "ScaleOutCooldown": 60,
                    "CustomizedMetricSpecification": {"Metrics": metrics},
                },
            },
        },
    }
