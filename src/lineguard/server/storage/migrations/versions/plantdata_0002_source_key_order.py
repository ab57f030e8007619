"""Plant data: an index on (record_type, source_key), so an answer's citations (the first few
records of a figure by source key) are read in index order instead of sorting every match.

Revision ID: plantdata_0002
Revises: auth_0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "plantdata_0002"
down_revision = "auth_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plant_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_plant_records_record_type_source_key"), ["record_type", "source_key"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("plant_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plant_records_record_type_source_key"))
