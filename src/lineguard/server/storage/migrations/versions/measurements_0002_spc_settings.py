"""SPC settings per characteristic: the rules tested and where the baseline starts.

Revision ID: measurements_0002
Revises: registry_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "measurements_0002"
down_revision = "registry_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spc_settings",
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("characteristic", sa.String(length=64), nullable=False),
        sa.Column("rules", sa.String(length=16), nullable=False),
        sa.Column("baseline_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_by", sa.String(length=160), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint(
            "site_id", "line_id", "station_id", "characteristic", name=op.f("pk_spc_settings")
        ),
    )


def downgrade() -> None:
    op.drop_table("spc_settings")
