"""Retention periods changed at run time through the API (override server.yaml).

Revision ID: protect_0002
Revises: registry_0001
Create Date: 2026-11-22 01:33:43.339096
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "protect_0002"
down_revision = "registry_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_policy",
        sa.Column("setting", sa.String(length=64), nullable=False),
        sa.Column("days", sa.BigInteger(), nullable=False),
        sa.Column("changed_by", sa.String(length=160), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("setting", name=op.f("pk_retention_policy")),
    )


def downgrade() -> None:
    op.drop_table("retention_policy")
