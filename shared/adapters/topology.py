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

What an operator may change about a queue (`QueueTuning`: its visibility timeout, how many
receives before it dead-letters, how long it and its DLQ keep a message) is set per queue by
`DRIPR_QUEUES` for `dripr provision`, and by the template's parameters of the same meaning.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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
MAX_VISIBILITY_TIMEOUT = 43_200
"""SQS's ceiling: twelve hours."""
MIN_RETENTION, MAX_RETENTION = 60, 14 * 24 * 3600
"""SQS's bounds on MessageRetentionPeriod: one minute to fourteen days."""


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


class QueueTuning(BaseModel):
    """What an operator may change about one queue; what is left unset keeps the topology's.

    The bounds are SQS's own, apart from the visibility timeout's floor (the heartbeat's margin).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    visibility_timeout: int | None = Field(
        None,
        ge=MIN_VISIBILITY_TIMEOUT,
        le=MAX_VISIBILITY_TIMEOUT,
        description="seconds a received message stays hidden if its handler dies (the "
        "heartbeat holds it while the handler lives)",
    )
    max_receive_count: int | None = Field(
        None,
        ge=1,
        le=1000,
        description="receives before a message that keeps failing is dead-lettered",
    )
    retention_seconds: int | None = Field(
        None,
        ge=MIN_RETENTION,
        le=MAX_RETENTION,
        description="seconds the queue keeps a message nobody handled",
    )
    dlq_retention_seconds: int | None = Field(
        None,
        ge=MIN_RETENTION,
        le=MAX_RETENTION,
        description="seconds the dead-letter queue keeps a message, counted from when it "
        "first entered the queue (so at least the queue's retention)",
    )

    def applied_to(self, spec: QueueSpec) -> QueueSpec:
        tuned = replace(spec, **self.model_dump(exclude_none=True))
        if tuned.dlq_retention_seconds < tuned.retention_seconds:
            raise ValueError(
                f"{spec.name}: dlq_retention_seconds {tuned.dlq_retention_seconds} is shorter than "
                f"retention_seconds {tuned.retention_seconds}: SQS counts a dead letter's age "
                "from its first enqueue, so it could expire as soon as it is dead-lettered"
            )
        return tuned


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

    def tuned(self, tunings: Mapping[str, QueueTuning]) -> Topology:
        """This topology with each named queue's tuning applied; an unknown name is an error."""
        unknown = sorted(set(tunings) - {spec.name for spec in self.queues})
        if unknown:
            known = ", ".join(sorted(spec.name for spec in self.queues))
            raise ValueError(f"no queue {', '.join(map(repr, unknown))}; known: {known}")
        queues = tuple(
            tunings[spec.name].applied_to(spec) if spec.name in tunings else spec
            for spec in self.queues
        )
        return replace(self, queues=queues)


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
