"""Tables, as SQLAlchemy 2 declarative models. The schema itself comes from Alembic migrations.

One module for every table, though it runs past 250 lines: the foreign keys and unique keys
between campaigns, recipients, sends, deliveries and the outbox read best side by side, and
Alembic's autogenerate compares the migrations with exactly this metadata.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Double,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from shared.domain.clock import utcnow_naive
from shared.domain.feedback import FeedbackKind, SuppressionReason
from shared.domain.statuses import (
    BreakerState,
    CampaignStatus,
    DeliveryStatus,
    PipelineState,
    SendStatus,
    SubStatus,
)

# SQLite only auto-increments INTEGER PRIMARY KEY; MySQL gets BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")
# Microseconds on MySQL too: hand-off latencies and event order are measured from these.
Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _enum(enum: type[StrEnum], name: str) -> Enum:
    return Enum(enum, name=name, native_enum=True, values_callable=lambda e: [m.value for m in e])


def sub_status() -> Mapped[SubStatus]:
    return mapped_column(
        _enum(SubStatus, "sub_status"), default=SubStatus.DORMANT, server_default="DORMANT"
    )


class Base(DeclarativeBase):
    type_annotation_map = {datetime: Timestamp, dict[str, Any]: JSON}


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    agent_name: Mapped[str] = mapped_column(String(200))
    agent_email: Mapped[str] = mapped_column(String(320))
    address: Mapped[str | None] = mapped_column(String(500))
    market_area: Mapped[str] = mapped_column(String(200), server_default="")
    no_address_newsletter: Mapped[bool] = mapped_column(Boolean, default=False)
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)

    campaign_status: Mapped[CampaignStatus] = mapped_column(
        _enum(CampaignStatus, "campaign_status"),
        default=CampaignStatus.DORMANT,
        server_default="DORMANT",
    )
    cycle: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cadence_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    next_send_datetime: Mapped[datetime]

    property_status: Mapped[SubStatus] = sub_status()
    active_listing_status: Mapped[SubStatus] = sub_status()
    recent_sale_status: Mapped[SubStatus] = sub_status()
    local_market_data_status: Mapped[SubStatus] = sub_status()
    intro_status: Mapped[SubStatus] = sub_status()
    home_report_analysis_status: Mapped[SubStatus] = sub_status()
    email_status: Mapped[SubStatus] = sub_status()
    send_status: Mapped[SubStatus] = sub_status()

    property_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    active_listings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    recent_sales: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    local_market_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    mortgage_rate: Mapped[float | None]
    intro: Mapped[str | None] = mapped_column(Text)
    home_report_analysis: Mapped[str | None] = mapped_column(Text)

    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    paused_reason: Mapped[str | None] = mapped_column(Text)
    paused_at: Mapped[datetime | None]
    error_reason: Mapped[str | None] = mapped_column(Text)
    error_from_status: Mapped[CampaignStatus | None] = mapped_column(
        _enum(CampaignStatus, "campaign_status")
    )

    created_at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow_naive, onupdate=utcnow_naive)

    recipients: Mapped[list[Recipient]] = relationship(back_populates="campaign")

    __table_args__ = (Index("ix_campaigns_due", "campaign_status", "next_send_datetime"),)


class Recipient(Base):
    __tablename__ = "recipients"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200))
    unsubscribed_at: Mapped[datetime | None]

    campaign: Mapped[Campaign] = relationship(back_populates="recipients")

    __table_args__ = (
        UniqueConstraint("campaign_id", "email", name="uq_recipients_campaign_email"),
    )


class OutboxEvent(Base):
    """Every event dripr emits, written in the transaction that caused it.

    Rows stay after publishing: for STATUS_CHANGE they are the campaign's history.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    """The event's own id (its payload's event_id): consumers' processed markers name it."""
    event_type: Mapped[str] = mapped_column(String(50))
    """STATUS_CHANGE or SEND_BATCH."""
    campaign_id: Mapped[int | None] = mapped_column(Id)
    cycle: Mapped[int | None]
    """The campaign's cycle the event belongs to, for SEND_BATCH rows too."""
    from_status: Mapped[str | None] = mapped_column(String(40))
    to_status: Mapped[str | None] = mapped_column(String(40))
    """STATUS_CHANGE only: the status entered, which picks the receiving queues."""
    payload: Mapped[str] = mapped_column(Text)
    """The event as JSON, exactly the message body published (docs/reference/events.md)."""
    queue: Mapped[str | None] = mapped_column(String(80))
    """A queue of the topology to send to directly (e.g. a SEND_BATCH); None: the topic."""
    delay_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime]
    """When the transaction that caused it wrote it: the hand-off latency starts here."""
    published_at: Mapped[datetime | None]
    """None until SNS/SQS accepted it; the scheduler's sweep republishes older ones."""
    publish_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    """The last publish failure, for an operator."""
    trace_parent: Mapped[str | None] = mapped_column(String(55))
    """W3C traceparent of the transaction that wrote the row: its publish continues that trace."""

    __table_args__ = (
        Index("ix_outbox_unpublished", "published_at", "id"),
        Index("ix_outbox_campaign", "campaign_id", "id"),
    )


class ProcessedEvent(Base):
    """An event handled by one consumer, written in the transaction of the handler's effect."""

    __tablename__ = "processed_events"

    consumer: Mapped[str] = mapped_column(String(80), primary_key=True)
    """The queue's name (property, intro, email-sender, ...)."""
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    """When the handler's transaction committed: the end of a hand-off."""
    trace_parent: Mapped[str | None] = mapped_column(String(55))
    """The handler's span, so a fan-in's last step can link the other branches."""

    __table_args__ = (Index("ix_processed_events_at", "processed_at"),)


class Email(Base):
    """The newsletter built for one campaign cycle; the unique key makes building it idempotent."""

    __tablename__ = "emails"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    cycle: Mapped[int]
    subject: Mapped[str] = mapped_column(String(300))
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow_naive)

    __table_args__ = (UniqueConstraint("campaign_id", "cycle", name="uq_emails_campaign_cycle"),)


class Delivery(Base):
    """One recipient's copy of one cycle's email, and what happened to it."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    cycle: Mapped[int]
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id", ondelete="CASCADE"))
    send_id: Mapped[int | None] = mapped_column(
        ForeignKey("sends.id", ondelete="CASCADE", name="fk_deliveries_send_id")
    )
    email: Mapped[str] = mapped_column(String(320))
    status: Mapped[DeliveryStatus] = mapped_column(
        _enum(DeliveryStatus, "delivery_status"), default=DeliveryStatus.PENDING
    )
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow_naive, onupdate=utcnow_naive)

    __table_args__ = (
        UniqueConstraint("campaign_id", "cycle", "recipient_id", name="uq_deliveries_recipient"),
        Index("ix_deliveries_progress", "campaign_id", "cycle", "status"),
        Index("ix_deliveries_sent_at", "sent_at"),
    )


class Send(Base):
    """A campaign cycle's send: its live controls and its progress, written after every batch."""

    __tablename__ = "sends"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    cycle: Mapped[int]
    status: Mapped[SendStatus] = mapped_column(
        _enum(SendStatus, "send_status"), default=SendStatus.RUNNING
    )
    batch_size: Mapped[int]
    delay_ms: Mapped[int]
    cooldown_seconds: Mapped[int]
    next_batch: Mapped[int] = mapped_column(Integer, default=0)
    """Sequence number of the next SEND_BATCH to run; a batch is claimed by moving it on."""
    batch_event_id: Mapped[str | None] = mapped_column(String(36))
    """The SEND_BATCH message that claimed the current batch: only it may run the batch again,
    as it does when its sender died and SQS handed it to another after the visibility timeout."""
    total: Mapped[int] = mapped_column(Integer, default=0)
    sent_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    skipped_count: Mapped[int] = mapped_column(Integer, default=0)
    pending_count: Mapped[int] = mapped_column(Integer, default=0)
    bounced_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Recipients of this send that bounced for good (SES feedback)."""
    complained_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    guard_paused_at: Mapped[datetime | None]
    """When the deliverability guard paused it; it does not pause the same send twice."""
    last_batch_at: Mapped[datetime | None]
    status_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow_naive, onupdate=utcnow_naive)
    finished_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("campaign_id", "cycle", name="uq_sends_campaign_cycle"),)


class AuditEntry(Base):
    """Who changed what, when: every operator action, with the counts it produced."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    campaign_id: Mapped[int | None] = mapped_column(Id)
    send_id: Mapped[int | None] = mapped_column(Id)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_audit_campaign", "campaign_id", "id"),)


class CircuitBreakerRow(Base):
    """A third-party dependency's breaker, shared by every replica of every service."""

    __tablename__ = "circuit_breakers"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    state: Mapped[BreakerState] = mapped_column(
        _enum(BreakerState, "breaker_state"), default=BreakerState.CLOSED
    )
    failures: Mapped[int] = mapped_column(Integer, default=0)
    threshold: Mapped[int] = mapped_column(Integer, default=5)
    opened_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow_naive, onupdate=utcnow_naive)


class PipelineStateRow(Base):
    """The pipeline's one switch: while PAUSED no consumer takes new work from its queue."""

    __tablename__ = "pipeline_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[PipelineState] = mapped_column(
        _enum(PipelineState, "pipeline_state_value"), default=PipelineState.RUNNING
    )
    reason: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    changed_by: Mapped[str | None] = mapped_column(String(120))


class FeedbackRecord(Base):
    """What SES reported about one delivery: a delivery, a bounce, a complaint, a reject.

    Send events are not kept: they only settle a claim (the delivery becomes SENT).
    """

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE", name="fk_feedback_delivery_id")
    )
    send_id: Mapped[int | None] = mapped_column(Id)
    campaign_id: Mapped[int] = mapped_column(Id)
    email: Mapped[str] = mapped_column(String(320))
    """Lower-cased, as suppressions are keyed."""
    kind: Mapped[FeedbackKind] = mapped_column(_enum(FeedbackKind, "feedback_kind"))
    bounce_type: Mapped[str | None] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
    ses_message_id: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(default=utcnow_naive)

    __table_args__ = (
        Index("ix_feedback_send", "send_id", "kind"),
        Index("ix_feedback_email", "email", "kind", "id"),
    )


class Suppression(Base):
    """An address no send will mail again until an operator lifts it: every campaign's."""

    __tablename__ = "suppressions"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    """Lower-cased and stripped."""
    reason: Mapped[SuppressionReason] = mapped_column(
        _enum(SuppressionReason, "suppression_reason")
    )
    detail: Mapped[str | None] = mapped_column(Text)
    delivery_id: Mapped[int | None] = mapped_column(Id)
    """The delivery whose feedback suppressed it."""
    campaign_id: Mapped[int | None] = mapped_column(Id)
    created_at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    lifted_at: Mapped[datetime | None]
    """Set when an operator lifts it; the row stays, so soft bounces count from then on."""
    lifted_by: Mapped[str | None] = mapped_column(String(120))


class RateLimitRow(Base):
    """A rate shared by every process: the account's SES sending rate.

    `next_at` (epoch seconds) is the earliest moment the next email may go; each sender
    reserves a slot by moving it on by one interval, in one short transaction.
    """

    __tablename__ = "rate_limits"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    next_at: Mapped[float] = mapped_column(Double, default=0.0)
    per_second: Mapped[float | None] = mapped_column(Double)
    """The rate last applied, for the operator to read."""


class OperatorSession(Base):
    """A dashboard sign-in, kept on the server so that signing out ends it for every copy of
    its cookie. Keyed by a hash of the session id: the database never holds the id itself."""

    __tablename__ = "operator_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    operator: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    ended_at: Mapped[datetime | None]


class SignInAttempt(Base):
    """A failed dashboard sign-in, counted per client address and overall to slow guessing."""

    __tablename__ = "sign_in_attempts"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow_naive)

    __table_args__ = (
        Index("ix_sign_in_attempts_at", "at"),
        Index("ix_sign_in_attempts_address", "address", "at"),
    )
