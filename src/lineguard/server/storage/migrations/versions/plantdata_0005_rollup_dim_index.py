"""Plant data: an index on ``plant_rollups.dim_h``, so the assistant matches a named part,
party or asset among the permitted cells by its hash without reading every cell.

Revision ID: plantdata_0005
Revises: plantdata_0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "plantdata_0005"
down_revision = "plantdata_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plant_rollups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plant_rollups_dim_h"), ["dim_h"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("plant_rollups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plant_rollups_dim_h"))
