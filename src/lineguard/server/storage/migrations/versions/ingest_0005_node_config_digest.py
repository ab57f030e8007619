"""Node health: the digest of the node's edge.yaml values its heartbeat reports (config drift).

Revision ID: ingest_0005
Revises: integrations_0002
Create Date: 2026-12-06 02:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ingest_0005"
down_revision = "integrations_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("node_health") as batch:
        batch.add_column(sa.Column("config_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("node_health") as batch:
        batch.drop_column("config_sha256")
