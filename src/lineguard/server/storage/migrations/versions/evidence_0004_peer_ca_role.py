"""Each relay peer's plant CA role (issuer leader, issuer, none), for forwarding and the doctor.

Revision ID: evidence_0004
Revises: ingest_0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "evidence_0004"
down_revision = "ingest_0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evidence_relay_peers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ca_role", sa.String(length=16), server_default="issuer", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("evidence_relay_peers", schema=None) as batch_op:
        batch_op.drop_column("ca_role")
