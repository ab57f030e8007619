"""Part verdicts: one row per physical part; rollups count parts, frames become a diagnostic.

Rows of ``rollup_hourly``/``rollup_daily`` written before this revision counted frames
(about six per part on a conveyor), not parts. Parts cannot be recovered from them (the
part ids are sealed per record), so their counts move to the new ``frames`` /
``frames_failed`` columns and their part counts become 0: the dashboard shows those
hours as "no parts identified" rather than a frame count posing as parts. Downgrading
puts the frame counts back (parts counted since are lost).

Revision ID: ingest_0006
Revises: ingest_0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ingest_0006"
down_revision = "ingest_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "part_verdicts",
        sa.Column(
            "row_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("part_verdict_id", sa.String(length=128), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("part_id_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("id_source", sa.String(length=16), nullable=False),
        sa.Column("first_frame_id", sa.BigInteger(), nullable=False),
        sa.Column("last_frame_id", sa.BigInteger(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("frames_fused", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.String(length=128), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("model_sha256", sa.String(length=64), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("anomaly_score", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("decisive_event_id", sa.String(length=128), nullable=False),
        sa.Column("evidence_ref", sa.String(length=128), nullable=True),
        sa.Column("closed_by", sa.String(length=16), nullable=False),
        sa.Column("anomalies", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("row_id", name=op.f("pk_part_verdicts")),
        sa.UniqueConstraint(
            "node_id", "idempotency_key", name=op.f("uq_part_verdicts_node_id_idempotency_key")
        ),
    )
    with op.batch_alter_table("part_verdicts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_part_verdicts_decisive_event_id"), ["decisive_event_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_part_verdicts_first_seen_at"), ["first_seen_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_part_verdicts_line_id_first_seen_at"), ["line_id", "first_seen_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_part_verdicts_part_verdict_id"), ["part_verdict_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_part_verdicts_verdict_first_seen_at"), ["verdict", "first_seen_at"], unique=False
        )

    with op.batch_alter_table("rollup_daily", schema=None) as batch_op:
        batch_op.add_column(sa.Column("frames", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("frames_failed", sa.BigInteger(), server_default="0", nullable=False))

    with op.batch_alter_table("rollup_hourly", schema=None) as batch_op:
        batch_op.add_column(sa.Column("frames", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("frames_failed", sa.BigInteger(), server_default="0", nullable=False))

    for table in ("rollup_hourly", "rollup_daily"):
        op.execute(
            f"UPDATE {table} SET frames = inspected, frames_failed = failed, "  # noqa: S608 - fixed names
            "inspected = 0, passed = 0, failed = 0, uncertain = 0"
        )


def downgrade() -> None:
    for table in ("rollup_hourly", "rollup_daily"):
        op.execute(
            f"UPDATE {table} SET inspected = frames, failed = frames_failed, "  # noqa: S608 - fixed names
            "passed = frames - frames_failed, uncertain = 0"
        )
    with op.batch_alter_table("rollup_hourly", schema=None) as batch_op:
        batch_op.drop_column("frames_failed")
        batch_op.drop_column("frames")

    with op.batch_alter_table("rollup_daily", schema=None) as batch_op:
        batch_op.drop_column("frames_failed")
        batch_op.drop_column("frames")

    with op.batch_alter_table("part_verdicts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_part_verdicts_verdict_first_seen_at"))
        batch_op.drop_index(batch_op.f("ix_part_verdicts_part_verdict_id"))
        batch_op.drop_index(batch_op.f("ix_part_verdicts_line_id_first_seen_at"))
        batch_op.drop_index(batch_op.f("ix_part_verdicts_first_seen_at"))
        batch_op.drop_index(batch_op.f("ix_part_verdicts_decisive_event_id"))

    op.drop_table("part_verdicts")
