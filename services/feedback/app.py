"""Feedback: what SES reports about the mail sent, recorded exactly once.

SES publishes to the feedback topic (the configuration set's events, the identity's bounce and
complaint notifications); its queue keeps SNS's envelope. Each notification is matched to its
delivery (the `delivery` tag, else SES's message id) and applied in one transaction with its
processed marker: a Send event settles a crash-cut claim, a hard bounce or a complaint
suppresses the address, soft bounces count, and the guard may pause the send
(shared/service_layer/feedback.py). One that matches no delivery is dead-lettered with that
reason; a malformed one never reaches here (the runtime dead-letters it).
"""

from __future__ import annotations

import asyncio
from functools import partial

import structlog

from shared.adapters.db.uow import SqlUnitOfWork
from shared.adapters.topology import FEEDBACK_QUEUE, TOPOLOGY
from shared.bootstrap import Runtime
from shared.consumer.consumer import run_consumers
from shared.consumer.outcomes import Reject
from shared.domain.feedback import FeedbackKind, SesFeedback
from shared.domain.sends import Guard
from shared.observability import metrics
from shared.service_layer import feedback
from shared.service_layer.feedback import FeedbackPolicy, UnmatchedFeedback

log = structlog.get_logger(__name__)

COUNTED = {FeedbackKind.BOUNCE: "bounced", FeedbackKind.COMPLAINT: "complained"}
"""SES's notifications that count against the mail sent, as `dripr_emails_total` outcomes."""


async def handle_feedback(
    event: SesFeedback, uow: SqlUnitOfWork, *, policy: FeedbackPolicy
) -> None:
    async with uow:
        try:
            delivery = await feedback.record(uow, event, policy)
        except UnmatchedFeedback as exc:
            raise Reject(str(exc)) from exc
        await uow.commit()
    if event.kind in COUNTED:
        metrics.emails.add(1, {"outcome": COUNTED[event.kind]})
    log.info(
        "feedback.recorded",
        kind=event.kind.value,
        delivery_id=delivery.id,
        send_id=delivery.send_id,
        bounce_type=event.bounce_type.value if event.bounce_type else None,
    )


def policy_of(runtime: Runtime) -> FeedbackPolicy:
    settings = runtime.settings
    return FeedbackPolicy(
        transient_bounce_limit=settings.feedback_transient_bounce_limit,
        guard=Guard(
            bounce_rate=settings.guard_bounce_rate,
            complaint_rate=settings.guard_complaint_rate,
            min_sent=settings.guard_min_sent,
        ),
    )


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    handler = partial(handle_feedback, policy=policy_of(runtime))
    consumer = await runtime.consumer(TOPOLOGY.queue(FEEDBACK_QUEUE), {SesFeedback: handler})
    await run_consumers([consumer], stop)
