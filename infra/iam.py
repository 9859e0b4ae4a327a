"""Least privilege as data: what each service's role may do, on which resources.

Written once against named resources (a queue, its DLQ, the topic, the sender identity, the
model) and rendered two ways: as CloudFormation intrinsics for the template
(`to_cloudformation`), and as real ARNs for a live account (`to_arns`), which is how the
IAM-enforcing test builds each role from the very statements the template ships.

What each service calls, and so may do:
- a consumer: receive, delete and change visibility on its own queues (never on a DLQ), send
  to its own DLQs, publish STATUS_CHANGEs (all but the feedback service, which emits none); the
  sender also queues its SEND_BATCHes on its own queue, sends through SES with the configured
  identity and configuration set, and reads the account's sending quota; the intro and home
  report invoke the configured Bedrock model;
- the scheduler: publish, and re-send unpublished SEND_BATCH rows to the sender's queue (the
  outbox sweep);
- the control API: read every queue's depth, peek at and redrive from the DLQs only, publish,
  and queue SEND_BATCHes (a resumed send).
The topic is found by `DRIPR_TOPIC_ARN`, which the task definitions set, so no role lists topics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.adapters.topology import TOPOLOGY, Topology
from shared.domain.sends import SENDER_QUEUE


@dataclass(frozen=True)
class Queue:
    name: str
    dead_letters: bool = False
    """The queue's DLQ rather than the queue."""


@dataclass(frozen=True)
class Named:
    """A resource that is not a queue: the topic, the SES identity or configuration set, the
    Bedrock model."""

    kind: str


TOPIC = Named("topic")
SES_IDENTITY = Named("ses-identity")
SES_CONFIGURATION_SET = Named("ses-configuration-set")
BEDROCK_MODEL = Named("bedrock-model")
ANY = Named("any")
"""For actions that take no resource (SES's GetSendQuota)."""

Resource = Queue | Named


@dataclass(frozen=True)
class Statement:
    sid: str
    actions: tuple[str, ...]
    resources: tuple[Resource, ...]


CONSUME = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
)
SEND = ("sqs:SendMessage", "sqs:GetQueueUrl")
PUBLISH = Statement("PublishStatusChanges", ("sns:Publish",), (TOPIC,))
SEND_BATCHES = Statement("QueueSendBatches", SEND, (Queue(SENDER_QUEUE),))

SERVICES = ("scheduler", "control_api")
"""Services with no queue of their own; the rest are the topology's consumers."""


def services(topology: Topology = TOPOLOGY) -> list[str]:
    return sorted({spec.service for spec in topology.queues} | set(SERVICES))


def statements(service: str, topology: Topology = TOPOLOGY) -> list[Statement]:
    if service == "scheduler":
        return [PUBLISH, SEND_BATCHES]
    if service == "control_api":
        every = [Queue(s.name, dlq) for s in topology.queues for dlq in (False, True)]
        dlqs = tuple(Queue(s.name, True) for s in topology.queues)
        return [
            Statement(
                "ReadQueueDepths", ("sqs:GetQueueAttributes", "sqs:GetQueueUrl"), tuple(every)
            ),
            Statement("PeekAndRedriveDeadLetters", CONSUME, dlqs),
            PUBLISH,
            SEND_BATCHES,
        ]
    own = topology.queues_of(service)
    if not own:
        raise KeyError(f"no service {service!r}; known: {', '.join(services(topology))}")
    granted = [
        Statement("ConsumeOwnQueues", CONSUME, tuple(Queue(s.name) for s in own)),
        Statement("DeadLetterOwnMessages", SEND, tuple(Queue(s.name, True) for s in own)),
    ]
    if not all(s.from_ses for s in own):  # the feedback service emits no events
        granted.append(PUBLISH)
    if any(s.name == SENDER_QUEUE for s in own):
        granted.append(SEND_BATCHES)
        granted.append(
            Statement(
                "SendThroughTheSenderIdentity",
                ("ses:SendEmail", "ses:SendRawEmail"),
                (SES_IDENTITY, SES_CONFIGURATION_SET),
            )
        )
        granted.append(Statement("ReadTheSendingQuota", ("ses:GetSendQuota",), (ANY,)))
    if service in ("intro", "home_report"):
        granted.append(
            Statement(
                "InvokeTheConfiguredModel",
                ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"),
                (BEDROCK_MODEL,),
            )
        )
    return granted


def policy(
    service: str, resolve: Callable[[Resource], Any], topology: Topology = TOPOLOGY
) -> dict[str, Any]:
    """The service's policy document, each resource turned into what `resolve` makes of it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": statement.sid,
                "Effect": "Allow",
                "Action": list(statement.actions),
                "Resource": [resolve(resource) for resource in statement.resources],
            }
            for statement in statements(service, topology)
        ],
    }
