"""Plant data: ``lines_key`` (a record's sorted lines joined with ``|``), filled from
``plant_record_lines``, with an index, so the read filter tests "every line granted" as
``lines_key IN (subsets of the granted lines)`` instead of a correlated subquery per row.

Revision ID: plantdata_0003
Revises: plantdata_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "plantdata_0003"
down_revision = "plantdata_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plant_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lines_key", sa.String(length=400), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_plant_records_category_lines_key_record_type"),
            ["category", "lines_key", "record_type"],
            unique=False,
        )
    bind = op.get_bind()
    lines: dict[str, list[str]] = {}
    for record_id, line_id in bind.execute(
        sa.text("SELECT record_id, line_id FROM plant_record_lines ORDER BY record_id, line_id")
    ):
        lines.setdefault(str(record_id), []).append(str(line_id))
    update = sa.text("UPDATE plant_records SET lines_key = :key WHERE record_id = :rid")
    rows = [{"key": "|".join(sorted(v)), "rid": k} for k, v in lines.items()]
    for start in range(0, len(rows), 1000):
        bind.execute(update, rows[start : start + 1000])


def downgrade() -> None:
    with op.batch_alter_table("plant_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plant_records_category_lines_key_record_type"))
        batch_op.drop_column("lines_key")
