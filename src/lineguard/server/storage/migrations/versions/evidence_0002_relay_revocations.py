"""Revoked replica relay identities: every replica refuses them, none renews them.

Revision ID: evidence_0002
Revises: keystore_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "evidence_0002"
down_revision = "keystore_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence_relay_revocations",
        sa.Column("replica_id", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("replica_id", name=op.f("pk_evidence_relay_revocations")),
    )


def downgrade() -> None:
    op.drop_table("evidence_relay_revocations")
