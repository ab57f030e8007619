"""Model registry: registered model versions and releases (lineguard.server.registry).

Revision ID: registry_0001
Revises: protect_0001
Create Date: 2026-11-22 01:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "registry_0001"
down_revision = "protect_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_model_versions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("model_id", sa.String(length=128), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("signer_key_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("registered_by", sa.String(length=40), nullable=False),
        sa.Column("registered_by_actor", sa.String(length=160), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=40), nullable=True),
        sa.Column("decided_by_actor", sa.String(length=160), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reject_reason", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_model_versions")),
        sa.UniqueConstraint("model_id", "version", name=op.f("uq_registry_model_versions_model_id_version")),
    )
    op.create_table(
        "registry_releases",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("release", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("model_version_id", sa.String(length=40), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("nodes", sa.JSON(), nullable=False),
        sa.Column("created_by_actor", sa.String(length=160), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("replaces_release", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["registry_model_versions.id"],
            name=op.f("fk_registry_releases_model_version_id_registry_model_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_releases")),
        sa.UniqueConstraint("release", name=op.f("uq_registry_releases_release")),
    )


def downgrade() -> None:
    op.drop_table("registry_releases")
    op.drop_table("registry_model_versions")
