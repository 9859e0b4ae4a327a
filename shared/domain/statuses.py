"""The campaign's status vocabulary.

There is deliberately no FETCHING or CREATING_EMAIL: in dripr the SQS visibility timeout of the
message being worked on is the lock, so no status ever means "someone is busy with this row".
"""

from __future__ import annotations

from enum import StrEnum


class CampaignStatus(StrEnum):
    DORMANT = "DORMANT"
    WAITING_FOR_DATA = "WAITING_FOR_DATA"
    WAITING_FOR_HOME_ANALYSIS = "WAITING_FOR_HOME_ANALYSIS"
    READY_TO_CREATE_EMAIL = "READY_TO_CREATE_EMAIL"
    WAITING_FOR_MANUAL_APPROVAL = "WAITING_FOR_MANUAL_APPROVAL"
    READY_TO_SEND_EMAIL = "READY_TO_SEND_EMAIL"
    SENDING = "SENDING"
    UNSUBSCRIBED = "UNSUBSCRIBED"
    ERROR = "ERROR"


class SubStatus(StrEnum):
    """The state of one step of a campaign cycle, owned by exactly one service."""

    DORMANT = "DORMANT"
    WAITING_FOR_DATA = "WAITING_FOR_DATA"
    READY = "READY"
    ERROR = "ERROR"


IN_PROGRESS: frozenset[CampaignStatus] = frozenset(
    {
        CampaignStatus.WAITING_FOR_DATA,
        CampaignStatus.WAITING_FOR_HOME_ANALYSIS,
        CampaignStatus.READY_TO_CREATE_EMAIL,
        CampaignStatus.WAITING_FOR_MANUAL_APPROVAL,
        CampaignStatus.READY_TO_SEND_EMAIL,
        CampaignStatus.SENDING,
    }
)
"""Statuses in which a cycle is running: the campaign must not be edited under the services."""


class DeliveryStatus(StrEnum):
    """One recipient's email in one cycle. SENDING is the claim taken just before the SES call."""

    PENDING = "PENDING"
    SENDING = "SENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


class SendStatus(StrEnum):
    """A campaign cycle's send. Only RUNNING sends deliver; PAUSED ones wait for a resume."""

    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    CANCELLED = "CANCELLED"
    COMPLETED = "COMPLETED"


class BreakerState(StrEnum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"


class PipelineState(StrEnum):
    """Whether consumers take new work. Only an operator's resume sets RUNNING again."""

    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
