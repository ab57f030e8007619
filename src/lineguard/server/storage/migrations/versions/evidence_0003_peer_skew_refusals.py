"""Each relay peer's clock skew and refused connections, for ``lineguard doctor``.

Revision ID: evidence_0003
Revises: evidence_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "evidence_0003"
down_revision = "evidence_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evidence_relay_peers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("clock_skew_s", sa.Float(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("refused_connections", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("evidence_relay_peers", schema=None) as batch_op:
        batch_op.drop_column("refused_connections")
        batch_op.drop_column("clock_skew_s")
