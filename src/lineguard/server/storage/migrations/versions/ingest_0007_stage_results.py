"""Stage results: what each inspection stage (gauging, label, …) found on a part.

``stage_results`` holds one row per stage run; ``part_verdicts.stages`` lists each
stage's verdict on the part (empty for parts stored before, which had no stages).

Revision ID: ingest_0007
Revises: ingest_0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ingest_0007"
down_revision = "ingest_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stage_results",
        sa.Column(
            "row_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("result_id", sa.String(length=128), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("part_verdict_id", sa.String(length=128), nullable=True),
        sa.Column("frame_id", sa.BigInteger(), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("measurements", sa.JSON(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("row_id", name=op.f("pk_stage_results")),
        sa.UniqueConstraint(
            "node_id", "idempotency_key", name=op.f("uq_stage_results_node_id_idempotency_key")
        ),
    )
    with op.batch_alter_table("stage_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stage_results_result_id"), ["result_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_stage_results_part_verdict_id"), ["part_verdict_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_stage_results_line_id_captured_at"), ["line_id", "captured_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_stage_results_kind_verdict_captured_at"),
            ["kind", "verdict", "captured_at"],
            unique=False,
        )
    with op.batch_alter_table("part_verdicts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stages", sa.JSON(), server_default=sa.text("'[]'"), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("part_verdicts", schema=None) as batch_op:
        batch_op.drop_column("stages")
    op.drop_table("stage_results")
