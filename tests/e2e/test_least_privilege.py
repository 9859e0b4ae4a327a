"""Every service under its own role, built from the template's own policies, on an emulator
that enforces IAM: a whole cycle works, and a service acting outside its role is denied.

The emulator is moto with IAM enforced (tests/standins/iam_moto.py). Each role gets the policy
document infra/iam.py renders for the template, with real ARNs in place of the template's
references; the trust policy lets the test's admin assume it, standing in for ECS. Each
service runs as its own process with nothing but its role's temporary credentials.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError
from sqlalchemy import func, select

from infra import iam
from infra.provision import Report, provision
from shared.adapters.db.models import Delivery, OutboxEvent, Send
from shared.adapters.topology import TOPOLOGY, Names
from shared.config import Settings
from shared.devtools.demo.processes import ServiceProcess, service_environment
from shared.devtools.emulator import free_port, wait_for_http
from shared.domain.clock import utcnow_naive
from shared.domain.events import SendBatch, StatusChange
from shared.domain.statuses import CampaignStatus as S
from shared.domain.statuses import DeliveryStatus
from tests.factories import load, make_campaign
from tests.support import eventually

pytestmark = pytest.mark.timeout(600)

ACCOUNT, REGION = "123456789012", "us-east-1"
ADMIN = f"arn:aws:iam::{ACCOUNT}:user/admin"
TOKEN = "least-privilege-test-token-0123456789"
SENDER_DOMAIN = "dripr.example"


@pytest.fixture(scope="module")
def enforcing_endpoint() -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.standins.iam_moto", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{endpoint}/moto-api/")
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


def client(service: str, endpoint: str, credentials: dict[str, str]) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, **credentials)


@pytest.fixture(scope="module")
def admin(enforcing_endpoint: str) -> dict[str, str]:
    """The three unauthenticated actions the emulator allows: an admin with a key."""
    anyone = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    users = client("iam", enforcing_endpoint, anyone)
    users.create_user(UserName="admin")
    everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    users.put_user_policy(
        UserName="admin",
        PolicyName="admin",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [everything]}),
    )
    key = users.create_access_key(UserName="admin")["AccessKey"]
    return {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


def real_arn(names: Names, topic_arn: str, settings: Settings) -> Any:
    def resolve(resource: iam.Resource) -> str:
        if isinstance(resource, iam.Queue):
            spec = TOPOLOGY.queue(resource.name)
            name = names.dlq(spec) if resource.dead_letters else names.queue(spec)
            return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
        return {
            iam.TOPIC: topic_arn,
            iam.SES_IDENTITY: f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{SENDER_DOMAIN}",
            iam.SES_CONFIGURATION_SET: f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/"
            f"{names.configuration_set()}",
            iam.ANY: "*",
            iam.BEDROCK_MODEL: f"arn:aws:bedrock:{REGION}::foundation-model/"
            f"{settings.bedrock_model_id}",
        }[resource]

    return resolve


def roles(endpoint: str, admin: dict[str, str], settings: Settings, topic_arn: str) -> Any:
    """Each service's role from the template's statements, assumed: service → credentials."""
    users, sts = client("iam", endpoint, admin), client("sts", endpoint, admin)
    resolve = real_arn(Names(settings.env), topic_arn, settings)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ADMIN}, "Action": "sts:AssumeRole"}],
    }
    credentials = {}
    for service in iam.services():
        name = f"{settings.env}-{service.replace('_', '-')}"
        arn = users.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        users.put_role_policy(
            RoleName=name,
            PolicyName="dripr",
            PolicyDocument=json.dumps(iam.policy(service, resolve)),
        )
        assumed = sts.assume_role(RoleArn=arn["Role"]["Arn"], RoleSessionName=service)
        keys = assumed["Credentials"]
        credentials[service] = {
            "aws_access_key_id": keys["AccessKeyId"],
            "aws_secret_access_key": keys["SecretAccessKey"],
            "aws_session_token": keys["SessionToken"],
        }
    return credentials


def as_environment(credentials: dict[str, str]) -> dict[str, str]:
    return {key.upper(): value for key, value in credentials.items()}


def denied(call: Any) -> bool:
    """Whether AWS (here the enforcing emulator) refuses the call for want of permission."""
    try:
        call()
    except ClientError as error:
        return "AccessDenied" in f"{error.response['Error']}"
    return False


async def test_every_service_works_under_its_own_role_and_nothing_more(
    enforcing_endpoint: str,
    admin: dict[str, str],
    database_url: str,
    sessions: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", admin["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", admin["aws_secret_access_key"])
    settings = Settings(
        database_url=database_url,
        aws_endpoint_url=enforcing_endpoint,
        env="lp",
        sender_email=f"newsletters@{SENDER_DOMAIN}",
        wait_time_seconds=1,
        scheduler_interval_seconds=0.5,
        outbox_grace_seconds=1,
        send_batch_size=2,
        send_delay_ms=0,
        send_cooldown_seconds=0,
        shutdown_grace_seconds=5,
    )
    topology: Report = provision(settings)
    credentials = roles(enforcing_endpoint, admin, settings, topology.topic_arn)
    campaign_id = await make_campaign(sessions, recipients=3)
    api_port = free_port()

    processes = {}
    for service in iam.services():
        env = service_environment(
            settings,
            **as_environment(credentials[service]),
            DRIPR_TOPIC_ARN=topology.topic_arn,
            DRIPR_API_TOKEN=TOKEN,
            DRIPR_API_PORT=str(api_port),
        )
        processes[service] = ServiceProcess(service, env, tmp_path / "logs")
        processes[service].start()
    api = httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{api_port}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    try:
        # A whole cycle, every service with its own credentials.
        async def sent_and_dormant() -> bool:
            campaign = await load(sessions, campaign_id)
            return campaign.campaign_status is S.DORMANT and campaign.cycle == 1

        await eventually(sent_and_dormant, within=90)
        async with sessions() as session:
            sent = await session.scalar(
                select(func.count()).where(Delivery.status == DeliveryStatus.SENT)
            )
            send = await session.scalar(select(Send).where(Send.campaign_id == campaign_id))
        assert sent == 3 and send is not None

        # The sweep: rows a failed publish left behind, one for the topic and one SEND_BATCH
        # for the sender's queue, published by the scheduler under its role.
        stale = utcnow_naive() - timedelta(minutes=1)
        events = [
            (
                StatusChange(
                    campaign_id=campaign_id,
                    cycle=1,
                    from_status=S.DORMANT,
                    to_status=S.WAITING_FOR_DATA,
                ),
                None,
            ),
            (
                SendBatch(send_id=send.id, campaign_id=campaign_id, cycle=1, batch=99),
                "email-sender",
            ),
        ]
        async with sessions() as session:
            for event, queue in events:
                session.add(
                    OutboxEvent(
                        event_id=str(event.event_id),
                        event_type=event.event_type_name(),
                        payload=event.model_dump_json(),
                        queue=queue,
                        campaign_id=campaign_id,
                        created_at=stale,
                        publish_attempts=1,
                        last_error="EndpointConnectionError: simulated",
                    )
                )
            await session.commit()

        async def swept() -> bool:
            async with sessions() as session:
                rows = await session.scalars(
                    select(OutboxEvent).where(
                        OutboxEvent.event_id.in_([str(e.event_id) for e, _ in events])
                    )
                )
                return all(row.published_at is not None for row in rows)

        await eventually(swept, within=30)

        # A redrive by the control API: a dead letter on the intro DLQ, back through the topic.
        admin_sqs = client("sqs", enforcing_endpoint, admin)
        names = Names(settings.env)
        intro, intro_dlq = (
            topology.queue_urls["intro"],
            topology.dlq_urls["intro"],
        )
        letter = StatusChange(
            campaign_id=campaign_id, cycle=1, from_status=S.DORMANT, to_status=S.WAITING_FOR_DATA
        )
        admin_sqs.send_message(QueueUrl=intro_dlq, MessageBody=letter.model_dump_json())
        await eventually(lambda: _api_up(api), within=30)
        redriven = await api.post("/api/v1/queues/intro/dlq/redrive", json={"dry_run": False})
        assert redriven.status_code == 200, redriven.text
        assert redriven.json()["redriven"] == 1
        depths = await api.get("/api/v1/queues")
        assert depths.status_code == 200, depths.text

        # Outside their roles, denied.
        sender_sqs = client("sqs", enforcing_endpoint, credentials["email_sender"])
        api_sqs = client("sqs", enforcing_endpoint, credentials["control_api"])
        scheduler_sqs = client("sqs", enforcing_endpoint, credentials["scheduler"])
        intro_ses = client("ses", enforcing_endpoint, credentials["intro"])
        intro_sns = client("sns", enforcing_endpoint, credentials["intro"])
        assert denied(lambda: sender_sqs.receive_message(QueueUrl=intro))
        assert denied(lambda: api_sqs.receive_message(QueueUrl=intro))
        assert denied(lambda: api_sqs.delete_message(QueueUrl=intro, ReceiptHandle="x"))
        assert denied(lambda: scheduler_sqs.send_message(QueueUrl=intro, MessageBody="{}"))
        assert denied(
            lambda: intro_ses.send_email(
                Source=f"newsletters@{SENDER_DOMAIN}",
                Destination={"ToAddresses": ["x@homes.example"]},
                Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}},
            )
        )
        other_topic = topology.topic_arn.replace(names.topic(), "other")
        assert denied(lambda: intro_sns.publish(TopicArn=other_topic, Message="{}"))
        # ... and what each may do, it may: the same calls inside the role.
        assert not denied(
            lambda: api_sqs.get_queue_attributes(QueueUrl=intro, AttributeNames=["All"])
        )
    finally:
        await api.aclose()
        codes = {name: process.stop(timeout=20) for name, process in processes.items()}
        logs = {p.name: p.log_path.read_text() for p in processes.values() if p.log_path.exists()}
        for name, text in logs.items():
            print(f"--- {name}\n{text[-3000:]}")
    refused = [name for name, text in logs.items() if "AccessDenied" in text]
    assert not refused, f"denied inside their own roles: {refused}"
    assert codes == dict.fromkeys(processes, 0), codes


async def _api_up(api: httpx.AsyncClient) -> bool:
    try:
        return (await api.get("/api/v1/queues")).status_code == 200
    except httpx.HTTPError:
        return False
