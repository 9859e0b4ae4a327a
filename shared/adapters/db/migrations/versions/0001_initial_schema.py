"""initial schema

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("agent_name", sa.String(length=200), nullable=False),
        sa.Column("agent_email", sa.String(length=320), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("no_address_newsletter", sa.Boolean(), nullable=False),
        sa.Column("requires_approval", sa.Boolean(), nullable=False),
        sa.Column(
            "campaign_status",
            sa.Enum(
                "DORMANT",
                "WAITING_FOR_DATA",
                "WAITING_FOR_HOME_ANALYSIS",
                "READY_TO_CREATE_EMAIL",
                "WAITING_FOR_MANUAL_APPROVAL",
                "READY_TO_SEND_EMAIL",
                "SENDING",
                "UNSUBSCRIBED",
                "ERROR",
                name="campaign_status",
            ),
            server_default="DORMANT",
            nullable=False,
        ),
        sa.Column("cycle", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cadence_days", sa.Integer(), server_default="30", nullable=False),
        sa.Column(
            "next_send_datetime",
            sa.DateTime()
            .with_variant(mysql.DATETIME(fsp=6), "mariadb")
            .with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "property_status",
            sa.Enum("DORMANT", "WAITING_FOR_DATA", "READY", "ERROR", name="sub_status"),
            server_default="DORMANT",
            nullable=False,
        ),
        sa.Column(
            "active_listing_status",
            sa.Enum("DORMANT", "WAITING_FOR_DATA", "READY", "ERROR", name="sub_status"),
            server_default="DORMANT",
            nullable=False,
        ),
        sa.Column(
            "recent_sale_status",
            sa.Enum("DORMANT", "WAITING_FOR_DATA", "READY", "ERROR", name="sub_status"),
            server_default="DORMANT",
            nullable=False,
        ),
        sa.Column(
            "local_market_data_status",
            sa.Enum("DORMANT", "WAITING_FOR_DATA", "READY", "ERROR", name="sub_status"),
            server_default="DORMANT",
            nullable=False,
        ),
        sa.Column(
            "intro_status",
            sa.Enum("DORMANT", "WAITING_FOR_DATA", "READY", "ERROR", name="sub_status"),
            server_default="DORMANT",
            nullable=False,
        ),
        sa.Column(
            "home_report_analysis_status",
            sa.Enum("DORMANT", "WAITING_FOR_DATA", "READY", "ERROR", name="sub_status"),
            server_default="DORMANT",
            nullable=False,
        ),
        sa.Column(
            "email_status",
            sa.Enum("DORMANT", "WAITING_FOR_DATA", "READY", "ERROR", name="sub_status"),
            server_default="DORMANT",
            nullable=False,
        ),
        sa.Column(
            "send_status",
            sa.Enum("DORMANT", "WAITING_FOR_DATA", "READY", "ERROR", name="sub_status"),
            server_default="DORMANT",
            nullable=False,
        ),
        sa.Column("property_data", sa.JSON(), nullable=True),
        sa.Column("active_listings", sa.JSON(), nullable=True),
        sa.Column("recent_sales", sa.JSON(), nullable=True),
        sa.Column("local_market_data", sa.JSON(), nullable=True),
        sa.Column("mortgage_rate", sa.Double(), nullable=True),
        sa.Column("intro", sa.Text(), nullable=True),
        sa.Column("home_report_analysis", sa.Text(), nullable=True),
        sa.Column("error_reason", sa.Text(), nullable=True),
        sa.Column(
            "error_from_status",
            sa.Enum(
                "DORMANT",
                "WAITING_FOR_DATA",
                "WAITING_FOR_HOME_ANALYSIS",
                "READY_TO_CREATE_EMAIL",
                "WAITING_FOR_MANUAL_APPROVAL",
                "READY_TO_SEND_EMAIL",
                "SENDING",
                "UNSUBSCRIBED",
                "ERROR",
                name="campaign_status",
            ),
            nullable=True,
        ),
        sa.Column(
            "created_at",
            sa.DateTime()
            .with_variant(mysql.DATETIME(fsp=6), "mariadb")
            .with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime()
            .with_variant(mysql.DATETIME(fsp=6), "mariadb")
            .with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index(
            "ix_campaigns_due", ["campaign_status", "next_send_datetime"], unique=False
        )

    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=50), nullable=False),
        sa.Column(
            "campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("cycle", sa.Integer(), nullable=True),
        sa.Column("from_status", sa.String(length=40), nullable=True),
        sa.Column("to_status", sa.String(length=40), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime()
            .with_variant(mysql.DATETIME(fsp=6), "mariadb")
            .with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "published_at",
            sa.DateTime()
            .with_variant(mysql.DATETIME(fsp=6), "mariadb")
            .with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=True,
        ),
        sa.Column("publish_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_campaign", ["campaign_id", "id"], unique=False)
        batch_op.create_index("ix_outbox_unpublished", ["published_at", "id"], unique=False)

    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(length=80), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column(
            "processed_at",
            sa.DateTime()
            .with_variant(mysql.DATETIME(fsp=6), "mariadb")
            .with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("consumer", "event_id"),
    )
    op.create_table(
        "recipients",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column(
            "unsubscribed_at",
            sa.DateTime()
            .with_variant(mysql.DATETIME(fsp=6), "mariadb")
            .with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "email", name="uq_recipients_campaign_email"),
    )


def downgrade() -> None:
    op.drop_table("recipients")
    op.drop_table("processed_events")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_unpublished")
        batch_op.drop_index("ix_outbox_campaign")

    op.drop_table("outbox")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index("ix_campaigns_due")

    op.drop_table("campaigns")
