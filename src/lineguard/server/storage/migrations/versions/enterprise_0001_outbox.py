"""Enterprise roll-up: the plant's durable queue of line-day snapshots (counts only).

Revision ID: enterprise_0001
Revises: measurements_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "enterprise_0001"
down_revision = "measurements_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enterprise_outbox",
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("sent_revision", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("line_id", "day", name=op.f("pk_enterprise_outbox")),
    )
    with op.batch_alter_table("enterprise_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_enterprise_outbox_due", ["next_attempt_at"], unique=False)


def downgrade() -> None:
    op.drop_table("enterprise_outbox")
