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
    feedback_topic_arn: str = ""
    dkim_records: list[str] = field(default_factory=list)
    """CNAME records to publish for the sender domain's Easy DKIM (on AWS)."""
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
    def __init__(
        self,
        sns: Any,
        sqs: Any,
        names: Names,
        ses: Any = None,
        sender: str = "",
        sesv2: Any = None,
    ) -> None:
        self.sns = sns
        self.sqs = sqs
        self.ses = ses
        self.sesv2 = sesv2
        self.sender = sender
        self.names = names

    def apply(self, topology: Topology = TOPOLOGY) -> Report:
        report = Report()
        report.topic_arn = self._topic(self.names.topic(topology), report)
        report.feedback_topic_arn = self._topic(self.names.feedback_topic(topology), report)
        if self.ses is not None and self.sender:
            self._sender_identity(report)
            self._mail_feedback(report.feedback_topic_arn, report)
        topics = {
            topology.topic: report.topic_arn,
            topology.feedback_topic: report.feedback_topic_arn,
        }
        subscriptions = {arn: self._subscriptions(arn) for arn in topics.values()}
        for spec in topology.queues:
            dlq_url, dlq_arn = self._queue(
                self.names.dlq(spec),
                {"MessageRetentionPeriod": str(spec.dlq_retention_seconds)},
                report,
            )
            wanted = _queue_attributes(spec, dlq_arn)
            queue_url, queue_arn = self._queue(self.names.queue(spec), wanted, report)
            topic_arn = topics[spec.feed]
            self._allow_topic(queue_url, queue_arn, topic_arn, spec, report)
            self._subscription(topic_arn, queue_arn, spec, subscriptions[topic_arn], report)
            report.queue_urls[spec.name] = queue_url
            report.dlq_urls[spec.name] = dlq_url
        return report

    def _sender_identity(self, report: Report) -> None:
        """SES sends only from verified identities; on AWS verification needs the DKIM records
        this prints. SES v2 where the endpoint speaks it (AWS, moto), else v1 (LocalStack)."""
        domain = self.sender.rsplit("@", 1)[-1]
        if self.sesv2 is not None:
            try:
                tokens = self._v2_identity(domain, report)
            except ClientError as exc:
                if not _unsupported(exc):
                    raise
            else:
                report.dkim_records = [
                    f"{t}._domainkey.{domain} CNAME {t}.dkim.amazonses.com" for t in tokens
                ]
                return
        verified = self.ses.list_identities(IdentityType="Domain", MaxItems=1000)["Identities"]
        if domain in verified:
            report.note("unchanged", "ses-identity", domain)
            return
        self.ses.verify_domain_identity(Domain=domain)
        report.note("created", "ses-identity", domain)

    def _v2_identity(self, domain: str, report: Report) -> list[str]:
        try:
            identity = self.sesv2.get_email_identity(EmailIdentity=domain)
            report.note("unchanged", "ses-identity", domain)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NotFoundException":
                raise
            identity = self.sesv2.create_email_identity(EmailIdentity=domain)
            report.note("created", "ses-identity", domain)
        return list(identity.get("DkimAttributes", {}).get("Tokens") or [])

    def _mail_feedback(self, feedback_topic_arn: str, report: Report) -> None:
        """The configuration set every email goes out with, publishing SES's events for it to
        the feedback topic. The identity's own notifications are left alone: every email
        carries the set, so they would only say each bounce twice (the feedback consumer
        reads that format too, for an identity someone wires by hand)."""
        name = self.names.configuration_set()
        existing = self.ses.list_configuration_sets().get("ConfigurationSets", [])
        if any(c["Name"] == name for c in existing):
            report.note("unchanged", "ses-config-set", name)
        else:
            self.ses.create_configuration_set(ConfigurationSet={"Name": name})
            report.note("created", "ses-config-set", name)
        # Named after the set: moto keeps event-destination names account-wide, so a second
        # environment on the same emulator could not add its "feedback" (the name of earlier
        # provisioning runs, still recognised).
        destination = {
            "Name": f"{name}-feedback",
            "Enabled": True,
            "MatchingEventTypes": list(SES_EVENT_TYPES),
            "SNSDestination": {"TopicARN": feedback_topic_arn},
        }
        described = self.ses.describe_configuration_set(
            ConfigurationSetName=name, ConfigurationSetAttributeNames=["eventDestinations"]
        )
        found = [
            d
            for d in described.get("EventDestinations", [])
            if d["Name"] in (destination["Name"], "feedback")
        ]
        label = f"{name} -> {feedback_topic_arn.rsplit(':', 1)[-1]}"
        if not found:
            self.ses.create_configuration_set_event_destination(
                ConfigurationSetName=name, EventDestination=destination
            )
            report.note("created", "ses-event-dest", label)
        elif _same_destination(found[0], destination):
            report.note("unchanged", "ses-event-dest", label)
        else:
            self.ses.update_configuration_set_event_destination(
                ConfigurationSetName=name,
                EventDestination={**destination, "Name": found[0]["Name"]},
            )
            report.note("updated", "ses-event-dest", label)

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
        wanted = (
            {"RawMessageDelivery": "false"}  # SES's notifications inside SNS's envelope
            if spec.from_ses
            else {"RawMessageDelivery": "true", "FilterPolicy": spec.filter_policy()}
        )
        label = f"{topic_arn.rsplit(':', 1)[-1]} -> {self.names.queue(spec)}"
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


SES_EVENT_TYPES = ("send", "reject", "bounce", "complaint", "delivery")
"""The configuration set's events the feedback consumer acts on."""


def _same_destination(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return bool(
        current.get("Enabled", False)
        and sorted(current.get("MatchingEventTypes", [])) == sorted(wanted["MatchingEventTypes"])
        and current.get("SNSDestination", {}).get("TopicARN")
        == wanted["SNSDestination"]["TopicARN"]
    )


def _unsupported(exc: ClientError) -> bool:
    """SES v2 refused in a way v1 may not be: an emulator without the API (LocalStack), or one
    that signs it differently (moto with IAM enforced answers SignatureDoesNotMatch)."""
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if "SignatureDoesNotMatch" in (code, message) or "<Code>SignatureDoesNotMatch<" in message:
        return True  # moto answers a REST API's error in query XML, which botocore cannot read
    return code in ("InternalFailure", "NotImplemented", "UnknownOperationException") or (
        status in (404, 501) and code != "NotFoundException"
    )


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


def provision(settings: Settings, topology: Topology | None = None) -> Report:
    """Apply the topology (by default the settings', DRIPR_QUEUES included) to their endpoint."""
    provisioner = Provisioner(
        sync_client("sns", settings),
        sync_client("sqs", settings),
        Names(settings.env),
        ses=sync_client("ses", settings),
        sender=settings.sender_email,
        sesv2=sync_client("sesv2", settings),
    )
    return provisioner.apply(topology or settings.topology)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.provision", description=__doc__)
    parser.add_argument("--env", help="name prefix (default: DRIPR_ENV or 'dev')")
    args = parser.parse_args(argv)
    settings = Settings() if args.env is None else Settings(env=args.env)
    report = provision(settings)
    for line in report.lines():
        print(line)
    for record in report.dkim_records:
        print(f"dkim       publish in DNS: {record}")
    print(f"{len(report.changed)} change(s); topic {report.topic_arn}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
