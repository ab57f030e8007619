"""Plant data: daily rollups (``plant_rollups``) of the records' clear measures per label,
record type, day and dimension value, built here from the records already stored, so
totals read cells instead of every record.

Revision ID: plantdata_0004
Revises: plantdata_0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "plantdata_0004"
down_revision = "plantdata_0003"
branch_labels = None
depends_on = None

_DIMS = ("part", "party", "asset")


def _day(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return moment.date().isoformat()
    return str(value)[:10]  # SQLite keeps UTC text


def upgrade() -> None:
    op.create_table(
        "plant_rollups",
        sa.Column("cell", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("site_wide", sa.Boolean(), nullable=False),
        sa.Column("lines_key", sa.String(length=400), nullable=True),
        sa.Column("record_type", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=True),
        sa.Column("dim", sa.String(length=8), nullable=False),
        sa.Column("dim_h", sa.String(length=16), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("quantity_n", sa.Integer(), nullable=False),
        sa.Column("quantity_sum", sa.Float(), nullable=False),
        sa.Column("amount_n", sa.Integer(), nullable=False),
        sa.Column("amount_sum", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("cell", name=op.f("pk_plant_rollups")),
    )
    with op.batch_alter_table("plant_rollups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_plant_rollups_record_type_dim_category_lines_key_day"),
            ["record_type", "dim", "category", "lines_key", "day"],
            unique=False,
        )
    bind = op.get_bind()
    cells: dict[tuple[Any, ...], list[float]] = {}
    page = sa.text(
        "SELECT record_id, category, site_wide, lines_key, record_type, occurred_at, quantity, amount, "
        "part_h, party_h, asset_h FROM plant_records WHERE kind = 'record' AND record_id > :after "
        "ORDER BY record_id LIMIT 20000"
    )
    after = ""
    while rows := bind.execute(page, {"after": after}).all():
        after = str(rows[-1][0])
        for _, category, site_wide, lines_key, record_type, occurred, quantity, amount, *hashes in rows:
            label = (category, bool(site_wide), lines_key, record_type, _day(occurred))
            sums = (1, quantity is not None, float(quantity or 0.0), amount is not None, float(amount or 0.0))
            dims = [(*label, d, h) for d, h in zip(_DIMS, hashes, strict=True) if h]
            for cell in [(*label, "", ""), *dims]:
                acc = cells.setdefault(cell, [0, 0, 0.0, 0, 0.0])
                for i, v in enumerate(sums):
                    acc[i] += v
    insert = sa.text(
        "INSERT INTO plant_rollups (cell, category, site_wide, lines_key, record_type, day, dim, dim_h, "
        "records, quantity_n, quantity_sum, amount_n, amount_sum) VALUES (:cell, :category, :site_wide, "
        ":lines_key, :record_type, :day, :dim, :dim_h, :records, :quantity_n, :quantity_sum, :amount_n, "
        ":amount_sum)"
    )
    batch: list[dict[str, Any]] = []
    for cell, (n, qn, qs, an, am) in cells.items():
        category, site_wide, lines_key, record_type, day, dim, dim_h = cell
        batch.append(
            {
                "cell": hashlib.sha256(json.dumps(cell, separators=(",", ":")).encode()).hexdigest(),
                "category": category, "site_wide": site_wide, "lines_key": lines_key,
                "record_type": record_type, "day": day, "dim": dim, "dim_h": dim_h,
                "records": int(n), "quantity_n": int(qn), "quantity_sum": qs,
                "amount_n": int(an), "amount_sum": am,
            }
        )  # fmt: skip
        if len(batch) == 1000:
            bind.execute(insert, batch)
            batch = []
    if batch:
        bind.execute(insert, batch)


def downgrade() -> None:
    op.drop_table("plant_rollups")
