"""trace context on outbox rows and processed markers; time indexes for the activity charts

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("trace_parent", sa.String(length=55), nullable=True))
    with op.batch_alter_table("processed_events") as batch:
        batch.add_column(sa.Column("trace_parent", sa.String(length=55), nullable=True))
    op.create_index("ix_processed_events_at", "processed_events", ["processed_at"])
    op.create_index("ix_deliveries_sent_at", "deliveries", ["sent_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_sent_at", table_name="deliveries")
    op.drop_index("ix_processed_events_at", table_name="processed_events")
    with op.batch_alter_table("processed_events") as batch:
        batch.drop_column("trace_parent")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("trace_parent")
