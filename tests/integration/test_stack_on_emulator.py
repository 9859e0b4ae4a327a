"""The whole stack deployed on the emulator with CloudFormation, as `aws cloudformation deploy`
would: it completes, and what moto builds for real matches what the template means.

moto creates queues, topics, roles, log groups, the ECS cluster, task definitions and services,
security groups and the load balancer; alarms, subscriptions, queue policies, scaling and SES
resources it accepts as placeholders (their content is checked by the unit tests and cfn-lint,
and the messaging by provisioning the same topology in every integration test).
"""

from __future__ import annotations

import ast
import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3

from infra import iam
from infra.cloudformation import render
from shared.adapters.topology import TOPOLOGY

REAL = {
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
    "AWS::IAM::Role",
    "AWS::Logs::LogGroup",
    "AWS::ECS::Cluster",
    "AWS::ECS::TaskDefinition",
    "AWS::ECS::Service",
    "AWS::EC2::SecurityGroup",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::ElasticLoadBalancingV2::Listener",
}


def _certificate(tmp_path: Path) -> tuple[bytes, bytes]:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=news.example.com",
        ],
        check=True,
        capture_output=True,
    )
    return cert.read_bytes(), key.read_bytes()


def test_the_whole_stack_deploys_and_each_service_gets_its_task_role_and_logs(
    aws_endpoint: str, tmp_path: Path
) -> None:
    kw: dict[str, Any] = {
        "endpoint_url": aws_endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
    }
    ec2 = boto3.client("ec2", **kw)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24")["Subnet"]["SubnetId"]
        for i in range(4)
    ]
    cert, key = _certificate(tmp_path)
    certificate = boto3.client("acm", **kw).import_certificate(Certificate=cert, PrivateKey=key)
    env = f"s{uuid.uuid4().hex[:6]}"
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
    parameters = {
        "Environment": env,
        "SenderDomain": "news.example.com",
        "ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/dripr@sha256:" + "0" * 64,
        "VpcId": vpc,
        "PrivateSubnetIds": ",".join(subnets[:2]),
        "PublicSubnetIds": ",".join(subnets[2:]),
        "CertificateArn": certificate["CertificateArn"],
        "PublicBaseUrl": "https://news.example.com",
        "PostalAddress": "Ada Agent Realty, 12 Main St, Springfield, IL 62701",
        "ApiTokenSecretArn": secret + "token",
        "UnsubscribeSecretArn": secret + "unsubscribe",
        "DatabaseHost": "db.internal",
        "DatabaseSecretArn": secret + "db",
    }
    cloudformation = boto3.client("cloudformation", **kw)
    cloudformation.create_stack(
        StackName=env,
        TemplateBody=render(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    for _ in range(120):
        stack = cloudformation.describe_stacks(StackName=env)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS"):
            break
        time.sleep(0.5)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")

    built = cloudformation.list_stack_resources(StackName=env)["StackResourceSummaries"]
    real = {r["LogicalResourceId"]: r for r in built if r["ResourceType"] in REAL}
    assert {r["ResourceType"] for r in real.values()} == REAL

    sqs = boto3.client("sqs", **kw)
    queues = [u for u in sqs.list_queues(QueueNamePrefix=f"{env}-dripr-")["QueueUrls"]]
    assert len(queues) == 2 * len(TOPOLOGY.queues)
    for url in queues:
        if url.endswith("-dlq"):
            continue
        policy = json.loads(
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"][
                "RedrivePolicy"
            ]
        )
        assert policy["deadLetterTargetArn"].endswith(url.rsplit("/", 1)[-1] + "-dlq")

    roles = boto3.client("iam", **kw)
    ecs = boto3.client("ecs", **kw)
    logs = boto3.client("logs", **kw)
    cluster = f"{env}-dripr"
    for service in iam.services():
        name = service.replace("_", "-")
        role = f"{env}-dripr-{name}-role"
        (policy_name,) = roles.list_role_policies(RoleName=role)["PolicyNames"]
        document = roles.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
        if isinstance(document, str):  # moto keeps a CloudFormation policy as Python's repr
            document = ast.literal_eval(unquote(document))
        granted = [s["Sid"] for s in document["Statement"]]
        assert granted == [s.sid for s in iam.statements(service)], service

        family = f"{env}-dripr-{name}"
        task = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
        (container,) = task["containerDefinitions"]
        assert container["command"] == [service]
        # moto's CloudFormation drops TaskRoleArn and the compatibilities from the task
        # definitions it builds; the unit tests check them in the template.
        group = container["logConfiguration"]["options"]["awslogs-group"]
        (found,) = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
        assert found["retentionInDays"] == 30

    services = ecs.list_services(cluster=cluster)["serviceArns"]
    assert len(services) == len(iam.services())
    migrate = ecs.describe_task_definition(taskDefinition=f"{env}-dripr-migrate")["taskDefinition"]
    assert migrate["containerDefinitions"][0]["entryPoint"] == ["dripr"]
    assert migrate["containerDefinitions"][0]["command"] == ["migrate"]
