"""circuit breakers and pausing

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "circuit_breakers",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("state", sa.Enum("CLOSED", "OPEN", name="breaker_state"), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column(
            "opened_at",
            sa.DateTime()
            .with_variant(mysql.DATETIME(fsp=6), "mariadb")
            .with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=True,
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime()
            .with_variant(mysql.DATETIME(fsp=6), "mariadb")
            .with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "pipeline_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "state", sa.Enum("RUNNING", "PAUSED", name="pipeline_state_value"), nullable=False
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "changed_at",
            sa.DateTime()
            .with_variant(mysql.DATETIME(fsp=6), "mariadb")
            .with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.Column("changed_by", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paused", sa.Boolean(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("paused_reason", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "paused_at",
                sa.DateTime()
                .with_variant(mysql.DATETIME(fsp=6), "mariadb")
                .with_variant(mysql.DATETIME(fsp=6), "mysql"),
                nullable=True,
            )
        )

    # The three dependencies dripr guards, and the pipeline's one switch, exist from the start.
    breakers = sa.table(
        "circuit_breakers",
        sa.column("name", sa.String),
        sa.column("state", sa.String),
        sa.column("failures", sa.Integer),
        sa.column("threshold", sa.Integer),
        sa.column("updated_at", sa.DateTime),
    )
    now = sa.func.now()
    for name in ("property-data", "bedrock", "ses"):
        op.execute(
            breakers.insert().values(
                name=name, state="CLOSED", failures=0, threshold=5, updated_at=now
            )
        )
    state = sa.table(
        "pipeline_state",
        sa.column("id", sa.Integer),
        sa.column("state", sa.String),
        sa.column("changed_at", sa.DateTime),
    )
    op.execute(state.insert().values(id=1, state="RUNNING", changed_at=now))


def downgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("paused_at")
        batch_op.drop_column("paused_reason")
        batch_op.drop_column("paused")

    op.drop_table("pipeline_state")
    op.drop_table("circuit_breakers")
