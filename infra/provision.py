"""Create or update the topology against any endpoint (an emulator or AWS), idempotently.

Run as `dripr provision` or `python -m infra.provision`. It prints one line per resource saying
what it did; a second run prints only "unchanged". Services never create queues: this is the only
code with permission to.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from shared.adapters.aws import sync_client
from shared.adapters.topology import TOPOLOGY, Names, QueueSpec, Topology, topic_may_send
from shared.config import Settings


@dataclass
class Report:
    actions: list[tuple[str, str, str]] = field(default_factory=list)
    topic_arn: str = ""
    queue_urls: dict[str, str] = field(default_factory=dict)
    dlq_urls: dict[str, str] = field(default_factory=dict)

    def note(self, action: str, kind: str, name: str) -> None:
        self.actions.append((action, kind, name))

    @property
    def changed(self) -> list[tuple[str, str, str]]:
        return [a for a in self.actions if a[0] != "unchanged"]

    def lines(self) -> list[str]:
        return [f"{action:<10} {kind:<13} {name}" for action, kind, name in self.actions]


class Provisioner:
    def __init__(self, sns: Any, sqs: Any, names: Names, ses: Any = None, sender: str = "") -> None:
        self.sns = sns
        self.sqs = sqs
        self.ses = ses
        self.sender = sender
        self.names = names

    def apply(self, topology: Topology = TOPOLOGY) -> Report:
        report = Report()
        if self.ses is not None and self.sender:
            self._sender_identity(report)
        report.topic_arn = self._topic(self.names.topic(topology), report)
        subscriptions = self._subscriptions(report.topic_arn)
        for spec in topology.queues:
            dlq_url, dlq_arn = self._queue(
                self.names.dlq(spec),
                {"MessageRetentionPeriod": str(spec.dlq_retention_seconds)},
                report,
            )
            queue_url, queue_arn = self._queue(
                self.names.queue(spec), _queue_attributes(spec, dlq_arn), report
            )
            self._allow_topic(queue_url, queue_arn, report.topic_arn, spec, report)
            self._subscription(report.topic_arn, queue_arn, spec, subscriptions, report)
            report.queue_urls[spec.name] = queue_url
            report.dlq_urls[spec.name] = dlq_url
        return report

    def _sender_identity(self, report: Report) -> None:
        """SES sends only from verified identities; on AWS verification also needs DNS records."""
        domain = self.sender.rsplit("@", 1)[-1]
        verified = self.ses.list_identities(IdentityType="Domain", MaxItems=1000)["Identities"]
        if domain in verified:
            report.note("unchanged", "ses-identity", domain)
            return
        self.ses.verify_domain_identity(Domain=domain)
        report.note("created", "ses-identity", domain)

    def _topic(self, name: str, report: Report) -> str:
        existing = find_topic_arn(self.sns, name)
        if existing:
            report.note("unchanged", "topic", name)
            return existing
        arn: str = self.sns.create_topic(Name=name)["TopicArn"]
        report.note("created", "topic", name)
        return arn

    def _queue(self, name: str, attributes: dict[str, str], report: Report) -> tuple[str, str]:
        try:
            url: str = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except ClientError as exc:
            if "NonExistentQueue" not in str(exc) and "QueueDoesNotExist" not in str(exc):
                raise
            url = self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            report.note("created", "queue", name)
        else:
            current = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
                "Attributes"
            ]
            drift = {k: v for k, v in attributes.items() if not _same(current.get(k), v)}
            if drift:
                self.sqs.set_queue_attributes(QueueUrl=url, Attributes=drift)
                report.note("updated", "queue", f"{name} ({', '.join(sorted(drift))})")
            else:
                report.note("unchanged", "queue", name)
        arn: str = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        return url, arn

    def _allow_topic(
        self, url: str, queue_arn: str, topic_arn: str, spec: QueueSpec, report: Report
    ) -> None:
        """On AWS a queue accepts SNS deliveries only if its policy says so."""
        policy = json.dumps(topic_may_send(queue_arn, topic_arn), sort_keys=True)
        current = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
        if _same(current.get("Attributes", {}).get("Policy"), policy):
            report.note("unchanged", "queue-policy", self.names.queue(spec))
            return
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
        report.note("updated", "queue-policy", self.names.queue(spec))

    def _subscriptions(self, topic_arn: str) -> dict[str, str]:
        found: dict[str, str] = {}
        paginator = self.sns.get_paginator("list_subscriptions_by_topic")
        for page in paginator.paginate(TopicArn=topic_arn):
            for sub in page["Subscriptions"]:
                if sub["Protocol"] == "sqs":
                    found[sub["Endpoint"]] = sub["SubscriptionArn"]
        return found

    def _subscription(
        self,
        topic_arn: str,
        queue_arn: str,
        spec: QueueSpec,
        existing: dict[str, str],
        report: Report,
    ) -> None:
        wanted = {"RawMessageDelivery": "true", "FilterPolicy": spec.filter_policy()}
        label = f"{self.names.topic()} -> {self.names.queue(spec)}"
        arn = existing.get(queue_arn)
        if arn is None:
            self.sns.subscribe(
                TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes=wanted
            )
            report.note("created", "subscription", label)
            return
        current = self.sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        drift = {k: v for k, v in wanted.items() if not _same(current.get(k), v)}
        for key, value in drift.items():
            self.sns.set_subscription_attributes(
                SubscriptionArn=arn, AttributeName=key, AttributeValue=value
            )
        report.note("updated" if drift else "unchanged", "subscription", label)


def _queue_attributes(spec: QueueSpec, dlq_arn: str) -> dict[str, str]:
    return {
        "VisibilityTimeout": str(spec.visibility_timeout),
        "MessageRetentionPeriod": str(spec.retention_seconds),
        "ReceiveMessageWaitTimeSeconds": "20",
        "RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": spec.max_receive_count},
            sort_keys=True,
        ),
    }


def _same(current: str | None, wanted: str) -> bool:
    """Compare attribute values, treating JSON documents by content rather than spelling."""
    if current is None:
        return False
    if current == wanted:
        return True
    try:
        return bool(_normal(json.loads(current)) == _normal(json.loads(wanted)))
    except (json.JSONDecodeError, TypeError):
        return False


def _normal(value: Any) -> Any:
    """JSON with numbers-as-strings folded, since SQS returns maxReceiveCount either way."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return str(value)


def find_topic_arn(sns: Any, name: str) -> str | None:
    paginator = sns.get_paginator("list_topics")
    for page in paginator.paginate():
        for topic in page["Topics"]:
            if topic["TopicArn"].rsplit(":", 1)[-1] == name:
                return str(topic["TopicArn"])
    return None


def provision(settings: Settings, topology: Topology = TOPOLOGY) -> Report:
    provisioner = Provisioner(
        sync_client("sns", settings),
        sync_client("sqs", settings),
        Names(settings.env),
        ses=sync_client("ses", settings),
        sender=settings.sender_email,
    )
    return provisioner.apply(topology)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.provision", description=__doc__)
    parser.add_argument("--env", help="name prefix (default: DRIPR_ENV or 'dev')")
    args = parser.parse_args(argv)
    settings = Settings() if args.env is None else Settings(env=args.env)
    report = provision(settings)
    for line in report.lines():
        print(line)
    print(f"{len(report.changed)} change(s); topic {report.topic_arn}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
