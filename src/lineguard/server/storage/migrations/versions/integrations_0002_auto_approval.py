"""Integrations: per-rule auto-approval policy of work-order recommendations.

Revision ID: integrations_0002
Revises: integrations_0001
Create Date: 2026-12-06 01:55:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "integrations_0002"
down_revision = "integrations_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "work_order_auto_approval",
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("changed_by", sa.String(length=160), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("rule", name=op.f("pk_work_order_auto_approval")),
    )


def downgrade() -> None:
    op.drop_table("work_order_auto_approval")
