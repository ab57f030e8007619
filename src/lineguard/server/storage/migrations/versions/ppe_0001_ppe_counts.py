"""PPE counts: one row per zone, hour and camera (aggregates only, small counts suppressed).

Revision ID: ppe_0001
Revises: storage_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ppe_0001"
down_revision = "storage_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ppe_counts",
        sa.Column(
            "row_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("counts_id", sa.String(length=128), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("hour_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sampled_frames", sa.Integer(), nullable=False),
        sa.Column("min_count", sa.Integer(), nullable=False),
        sa.Column("people_seen", sa.Integer(), nullable=True),
        sa.Column("lacking", sa.JSON(), nullable=False),
        sa.Column("classifier", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("row_id", name=op.f("pk_ppe_counts")),
        sa.UniqueConstraint("node_id", "idempotency_key", name=op.f("uq_ppe_counts_node_id_idempotency_key")),
    )
    with op.batch_alter_table("ppe_counts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ppe_counts_site_line_hour", ["site_id", "line_id", "hour_start"], unique=False
        )


def downgrade() -> None:
    op.drop_table("ppe_counts")
