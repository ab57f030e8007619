"""Indexes for looking up one inspection record or alert by its id (dashboard drill-down,
alerts filtered by the model of their event).

Revision ID: ingest_0003
Revises: ingest_0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "ingest_0003"
down_revision = "ingest_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_inspection_events_event_id", "inspection_events", ["event_id"], unique=False)
    op.create_index("ix_alerts_alert_id", "alerts", ["alert_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_alerts_alert_id", table_name="alerts")
    op.drop_index("ix_inspection_events_event_id", table_name="inspection_events")
