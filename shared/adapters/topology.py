"""dripr's messaging topology as data: two topics, one queue and dead-letter queue per consumer.

Every pipeline consumer's queue is subscribed to the STATUS_CHANGE topic with raw delivery and a
filter policy on `to_status`, so a service only ever sees the transitions it acts on. The
feedback consumer's queue is subscribed to the SES feedback topic instead, which SES itself
publishes to (the configuration set's event destination, the identity's notifications): SNS's
envelope is kept there, as SES's notifications arrive inside it.

Every queue's visibility timeout is 30 s: the timeout is the lock on a message, and the
consumer's heartbeat extends it every third of it for as long as a live handler runs (an LLM
call, a batch with long delays), so a long timeout buys nothing for live work and only delays
the return of a crashed handler's message. With 30 s, dead work is back within 30 s of the crash.
`DRIPR_VISIBILITY_TIMEOUTS` (provisioning) and the template's parameters set it per queue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shared.domain.dependencies import Dependency
from shared.domain.events import STATUS_CHANGE
from shared.domain.sends import SENDER_QUEUE
from shared.domain.statuses import CampaignStatus

S = CampaignStatus
D = Dependency
FEEDBACK_QUEUE = "feedback"
VISIBILITY_TIMEOUT = 30
"""Seconds a received message stays hidden unless its handler's heartbeat extends it."""
MIN_VISIBILITY_TIMEOUT = 10
"""Below this the heartbeat (every third of the timeout) leaves too little margin for a slow
ChangeMessageVisibility call before the message reappears."""


@dataclass(frozen=True)
class QueueSpec:
    name: str
    service: str
    to_statuses: tuple[CampaignStatus, ...]
    depends_on: tuple[Dependency, ...] = ()
    """The breakers the consumer's work goes through: an open one holds the consumer."""
    max_receive_count: int = 5
    feed: str = "status-change"
    """The topic the queue is subscribed to: the STATUS_CHANGE topic or SES's feedback topic."""
    pausable: bool = True
    """Whether a paused pipeline holds the consumer. SES's feedback is not: recording what SES
    says about mail already sent is no work against a failing dependency, and it settles
    crash-cut claims before the sender resumes."""
    retention_seconds: int = 4 * 24 * 3600
    dlq_retention_seconds: int = 14 * 24 * 3600
    visibility_timeout: int = VISIBILITY_TIMEOUT

    @property
    def from_ses(self) -> bool:
        return self.feed == FEEDBACK_TOPIC

    def filter_policy(self) -> str:
        return json.dumps(
            {
                "event_type": [STATUS_CHANGE],
                "to_status": [status.value for status in self.to_statuses],
            },
            sort_keys=True,
        )


FEEDBACK_TOPIC = "ses-feedback"


@dataclass(frozen=True)
class Topology:
    topic: str
    queues: tuple[QueueSpec, ...]
    feedback_topic: str = FEEDBACK_TOPIC

    def queue(self, name: str) -> QueueSpec:
        for spec in self.queues:
            if spec.name == name:
                return spec
        raise KeyError(f"no queue named {name!r}; known: {', '.join(q.name for q in self.queues)}")

    def queues_of(self, service: str) -> tuple[QueueSpec, ...]:
        return tuple(spec for spec in self.queues if spec.service == service)

    def receivers_of(self, status: CampaignStatus) -> set[str]:
        return {spec.name for spec in self.queues if status in spec.to_statuses}


TOPOLOGY = Topology(
    topic="status-change",
    queues=(
        # One queue per data kind: each fetch succeeds, fails and retries on its own.
        QueueSpec("property", "data_fetcher", (S.WAITING_FOR_DATA,), (D.PROPERTY_DATA,)),
        QueueSpec("active-listings", "data_fetcher", (S.WAITING_FOR_DATA,), (D.PROPERTY_DATA,)),
        QueueSpec("recent-sales", "data_fetcher", (S.WAITING_FOR_DATA,), (D.PROPERTY_DATA,)),
        QueueSpec("local-market", "data_fetcher", (S.WAITING_FOR_DATA,), (D.PROPERTY_DATA,)),
        QueueSpec("intro", "intro", (S.WAITING_FOR_DATA,), (D.PROPERTY_DATA, D.BEDROCK)),
        QueueSpec("home-report", "home_report", (S.WAITING_FOR_HOME_ANALYSIS,), (D.BEDROCK,)),
        QueueSpec("email-creation", "email_creation", (S.READY_TO_CREATE_EMAIL,)),
        QueueSpec(SENDER_QUEUE, "email_sender", (S.READY_TO_SEND_EMAIL,), (D.SES,)),
        # SES's notifications about the mail sent: settle claims, suppress, guard the send.
        QueueSpec(FEEDBACK_QUEUE, "feedback", (), feed=FEEDBACK_TOPIC, pausable=False),
    ),
)
"""Queue name → its spec; the names are the logical ones, `Names` adds the environment prefix."""


@dataclass(frozen=True)
class Names:
    """Physical names: every resource carries the environment prefix."""

    env: str

    def topic(self, topology: Topology = TOPOLOGY) -> str:
        return f"{self.env}-dripr-{topology.topic}"

    def feedback_topic(self, topology: Topology = TOPOLOGY) -> str:
        return f"{self.env}-dripr-{topology.feedback_topic}"

    def configuration_set(self) -> str:
        """The SES configuration set every email goes out with; its events feed the topic."""
        return f"{self.env}-dripr-mail"

    def queue(self, spec: QueueSpec) -> str:
        return f"{self.env}-dripr-{spec.name}"

    def dlq(self, spec: QueueSpec) -> str:
        return f"{self.env}-dripr-{spec.name}-dlq"


def topic_may_send(queue_arn: Any, topic_arn: Any) -> dict[str, Any]:
    """The queue policy that lets the STATUS_CHANGE topic deliver to a queue (needed on AWS).

    ARNs are values for the provisioner and CloudFormation references for the template.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowStatusChangeTopic",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }
