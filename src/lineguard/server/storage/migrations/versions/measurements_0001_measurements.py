"""Measurements: one row per measured value of an inspection stage (SPC reads them).

Revision ID: measurements_0001
Revises: plantdata_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "measurements_0001"
down_revision = "plantdata_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "measurements",
        sa.Column(
            "row_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("result_id", sa.String(length=128), nullable=False),
        sa.Column("part_verdict_id", sa.String(length=128), nullable=True),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("characteristic", sa.String(length=64), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("uncertainty", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("nominal", sa.Float(), nullable=True),
        sa.Column("lower_limit", sa.Float(), nullable=True),
        sa.Column("upper_limit", sa.Float(), nullable=True),
        sa.Column("in_tolerance", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("row_id", name=op.f("pk_measurements")),
    )
    with op.batch_alter_table("measurements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_measurements_series",
            ["site_id", "line_id", "station_id", "characteristic", "captured_at"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_measurements_result_id"), ["result_id"], unique=False)


def downgrade() -> None:
    op.drop_table("measurements")
