"""Node identity (nodes, enrollment tokens, certificates), ingest tables and hourly rollups.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column(
            "row_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("alert_id", sa.String(length=128), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=True),
        sa.Column("defect_class", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("row_id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("node_id", "idempotency_key", name=op.f("uq_alerts_node_id_idempotency_key")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alerts_line_id_raised_at"), ["line_id", "raised_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_alerts_raised_at"), ["raised_at"], unique=False)

    op.create_table(
        "camera_health",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("fps", sa.Float(), nullable=False),
        sa.Column("latency_p50_ms", sa.Float(), nullable=False),
        sa.Column("latency_p99_ms", sa.Float(), nullable=False),
        sa.Column("frames_dropped", sa.BigInteger(), nullable=False),
        sa.Column("frames_corrupt", sa.BigInteger(), nullable=False),
        sa.Column("model_id", sa.String(length=128), nullable=True),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("model_sha256", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("node_id", "camera_id", name=op.f("pk_camera_health")),
    )
    op.create_table(
        "enrollment_tokens",
        sa.Column("token_id", sa.String(length=64), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("camera_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_enrollment_tokens")),
    )
    with op.batch_alter_table("enrollment_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enrollment_tokens_node_id"), ["node_id"], unique=False)

    op.create_table(
        "ingest_counters",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("batches_accepted", sa.BigInteger(), nullable=False),
        sa.Column("batches_rejected", sa.BigInteger(), nullable=False),
        sa.Column("items_stored", sa.BigInteger(), nullable=False),
        sa.Column("items_duplicate", sa.BigInteger(), nullable=False),
        sa.Column("last_batch_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_ingest_counters")),
    )
    op.create_table(
        "inspection_events",
        sa.Column(
            "row_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("part_id_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("frame_id", sa.BigInteger(), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_id", sa.String(length=128), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("model_sha256", sa.String(length=64), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("anomaly_score", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("evidence_ref", sa.String(length=128), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("row_id", name=op.f("pk_inspection_events")),
        sa.UniqueConstraint(
            "node_id", "idempotency_key", name=op.f("uq_inspection_events_node_id_idempotency_key")
        ),
    )
    with op.batch_alter_table("inspection_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inspection_events_camera_id_captured_at"),
            ["camera_id", "captured_at"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_inspection_events_captured_at"), ["captured_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_inspection_events_line_id_captured_at"), ["line_id", "captured_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_inspection_events_verdict_captured_at"), ["verdict", "captured_at"], unique=False
        )

    op.create_table(
        "node_health",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("software_version", sa.String(length=64), nullable=False),
        sa.Column("uptime_s", sa.Float(), nullable=False),
        sa.Column("outbox_backlog", sa.BigInteger(), nullable=False),
        sa.Column("disk_used_bytes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_node_health")),
    )
    op.create_table(
        "nodes",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("camera_ids", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_nodes")),
    )
    op.create_table(
        "rollup_hourly",
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("defect_class", sa.String(length=64), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("inspected", sa.BigInteger(), nullable=False),
        sa.Column("passed", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.BigInteger(), nullable=False),
        sa.Column("uncertain", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "site_id", "defect_class", "hour", "line_id", "camera_id", name=op.f("pk_rollup_hourly")
        ),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("rollup_hourly", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rollup_hourly_hour"), ["hour"], unique=False)

    op.create_table(
        "work_order_triggers",
        sa.Column(
            "row_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("trigger_id", sa.String(length=128), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("defect_class", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("event_ids", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("row_id", name=op.f("pk_work_order_triggers")),
        sa.UniqueConstraint(
            "node_id", "idempotency_key", name=op.f("uq_work_order_triggers_node_id_idempotency_key")
        ),
    )
    with op.batch_alter_table("work_order_triggers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_work_order_triggers_created_at"), ["created_at"], unique=False)

    op.create_table(
        "node_certificates",
        sa.Column("serial", sa.String(length=48), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("fingerprint_sha256", sa.String(length=64), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["nodes.node_id"],
            name=op.f("fk_node_certificates_node_id_nodes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_node_certificates")),
        sa.UniqueConstraint("fingerprint_sha256", name=op.f("uq_node_certificates_fingerprint_sha256")),
    )
    with op.batch_alter_table("node_certificates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_node_certificates_node_id_not_after"), ["node_id", "not_after"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("node_certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_node_certificates_node_id_not_after"))

    op.drop_table("node_certificates")
    with op.batch_alter_table("work_order_triggers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_work_order_triggers_created_at"))

    op.drop_table("work_order_triggers")
    with op.batch_alter_table("rollup_hourly", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rollup_hourly_hour"))

    op.drop_table("rollup_hourly")
    op.drop_table("nodes")
    op.drop_table("node_health")
    with op.batch_alter_table("inspection_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inspection_events_verdict_captured_at"))
        batch_op.drop_index(batch_op.f("ix_inspection_events_line_id_captured_at"))
        batch_op.drop_index(batch_op.f("ix_inspection_events_captured_at"))
        batch_op.drop_index(batch_op.f("ix_inspection_events_camera_id_captured_at"))

    op.drop_table("inspection_events")
    op.drop_table("ingest_counters")
    with op.batch_alter_table("enrollment_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrollment_tokens_node_id"))

    op.drop_table("enrollment_tokens")
    op.drop_table("camera_health")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_raised_at"))
        batch_op.drop_index(batch_op.f("ix_alerts_line_id_raised_at"))

    op.drop_table("alerts")
