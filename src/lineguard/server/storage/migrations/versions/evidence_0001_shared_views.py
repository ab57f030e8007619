"""Evidence views shared by replicas: view state, relay peers, node polls (never an image).

Revision ID: evidence_0001
Revises: enterprise_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "evidence_0001"
down_revision = "enterprise_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence_views",
        sa.Column("view_id", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("evidence_ref", sa.String(length=128), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=True),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reported", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("view_id", name=op.f("pk_evidence_views")),
    )
    with op.batch_alter_table("evidence_views", schema=None) as batch_op:
        batch_op.create_index("ix_evidence_views_node_state", ["node_id", "state"], unique=False)
        batch_op.create_index("ix_evidence_views_request_id", ["request_id"], unique=True)
    op.create_table(
        "evidence_relay_peers",
        sa.Column("replica_id", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("replica_id", name=op.f("pk_evidence_relay_peers")),
    )
    op.create_table(
        "evidence_node_polls",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("polled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_evidence_node_polls")),
    )


def downgrade() -> None:
    op.drop_table("evidence_node_polls")
    op.drop_table("evidence_relay_peers")
    op.drop_table("evidence_views")
