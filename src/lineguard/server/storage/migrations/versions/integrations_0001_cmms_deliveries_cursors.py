"""Integrations: the CMMS delivery queue and publisher cursors (lineguard.server.integrations).

Revision ID: integrations_0001
Revises: review_0001
Create Date: 2026-12-06 01:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "integrations_0001"
down_revision = "review_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cmms_deliveries",
        sa.Column("delivery_id", sa.String(length=64), nullable=False),
        sa.Column("destination", sa.String(length=32), nullable=False),
        sa.Column("work_order_id", sa.String(length=128), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("order_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_token", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_cmms_deliveries")),
        sa.UniqueConstraint(
            "destination", "work_order_id", name=op.f("uq_cmms_deliveries_destination_work_order_id")
        ),
    )
    with op.batch_alter_table("cmms_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cmms_deliveries_destination_external_id"),
            ["destination", "external_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_cmms_deliveries_state_next_attempt_at"), ["state", "next_attempt_at"], unique=False
        )
    op.create_table(
        "integration_cursors",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_integration_cursors")),
    )


def downgrade() -> None:
    op.drop_table("integration_cursors")
    with op.batch_alter_table("cmms_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cmms_deliveries_state_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_cmms_deliveries_destination_external_id"))
    op.drop_table("cmms_deliveries")
