"""Governance: document builds, notice publications, access reviews, config snapshots.

Revision ID: governance_0001
Revises: ingest_0004
Create Date: 2026-12-06 01:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "governance_0001"
down_revision = "ingest_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "governance_builds",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("built_by", sa.String(length=160), nullable=False),
        sa.Column("software_version", sa.String(length=64), nullable=False),
        sa.Column("facts_sha256", sa.String(length=64), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("documents", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_governance_builds")),
    )
    op.create_index(op.f("ix_governance_builds_built_at"), "governance_builds", ["built_at"])
    op.create_table(
        "governance_notice_publications",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("build_id", sa.String(length=40), nullable=False),
        sa.Column("published_on", sa.Date(), nullable=False),
        sa.Column("where", sa.String(length=300), nullable=False),
        sa.Column("recorded_by", sa.String(length=160), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_governance_notice_publications")),
    )
    op.create_table(
        "governance_access_reviews",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_by", sa.String(length=160), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("signed_off_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_off_by", sa.String(length=160), nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("revoked_grants", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_governance_access_reviews")),
    )
    op.create_index(
        op.f("ix_governance_access_reviews_started_at"), "governance_access_reviews", ["started_at"]
    )
    op.create_table(
        "governance_config_snapshots",
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_governance_config_snapshots")),
    )


def downgrade() -> None:
    op.drop_table("governance_config_snapshots")
    op.drop_index(op.f("ix_governance_access_reviews_started_at"), table_name="governance_access_reviews")
    op.drop_table("governance_access_reviews")
    op.drop_table("governance_notice_publications")
    op.drop_index(op.f("ix_governance_builds_built_at"), table_name="governance_builds")
    op.drop_table("governance_builds")
