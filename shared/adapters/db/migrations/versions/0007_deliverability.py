"""deliverability: feedback, suppressions, the shared sending rate

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("next_at", sa.Double(), nullable=False),
        sa.Column("per_second", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "suppressions",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column(
            "reason",
            sa.Enum("BOUNCE", "COMPLAINT", "TRANSIENT_BOUNCES", name="suppression_reason"),
            nullable=False,
        ),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column(
            "delivery_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "created_at",
            sa.DateTime()
            .with_variant(mysql.DATETIME(fsp=6), "mariadb")
            .with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "lifted_at",
            sa.DateTime()
            .with_variant(mysql.DATETIME(fsp=6), "mariadb")
            .with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=True,
        ),
        sa.Column("lifted_by", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("email"),
    )
    op.create_table(
        "feedback",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "delivery_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("send_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("SEND", "DELIVERY", "BOUNCE", "COMPLAINT", "REJECT", name="feedback_kind"),
            nullable=False,
        ),
        sa.Column("bounce_type", sa.String(length=20), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("ses_message_id", sa.String(length=200), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime()
            .with_variant(mysql.DATETIME(fsp=6), "mariadb")
            .with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["deliveries.id"], name="fk_feedback_delivery_id", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_feedback_email", "feedback", ["email", "kind", "id"], unique=False)
    op.create_index("ix_feedback_send", "feedback", ["send_id", "kind"], unique=False)
    op.add_column(
        "sends",
        sa.Column(
            "guard_paused_at",
            sa.DateTime()
            .with_variant(mysql.DATETIME(fsp=6), "mariadb")
            .with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=True,
        ),
    )
    op.add_column(
        "sends", sa.Column("bounced_count", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "sends", sa.Column("complained_count", sa.Integer(), server_default="0", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("sends", "guard_paused_at")
    op.drop_column("sends", "complained_count")
    op.drop_column("sends", "bounced_count")
    op.drop_index("ix_feedback_send", table_name="feedback")
    op.drop_index("ix_feedback_email", table_name="feedback")
    op.drop_table("feedback")
    op.drop_table("suppressions")
    op.drop_table("rate_limits")
