"""Plant data: sealed records and documents, their lines, the keyed term index, the index key.

Revision ID: plantdata_0001
Revises: ingest_0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "plantdata_0001"
down_revision = "ingest_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plant_records",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("site_wide", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("source_key", sa.String(length=200), nullable=False),
        sa.Column("record_type", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("quantity", sa.Float(), nullable=True),
        sa.Column("amount", sa.Float(), nullable=True),
        sa.Column("part_h", sa.String(length=16), nullable=True),
        sa.Column("order_h", sa.String(length=16), nullable=True),
        sa.Column("party_h", sa.String(length=16), nullable=True),
        sa.Column("asset_h", sa.String(length=16), nullable=True),
        sa.Column("lot_h", sa.String(length=16), nullable=True),
        sa.Column("body_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("content_h", sa.String(length=64), nullable=False),
        sa.Column("derived_from", sa.JSON(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.String(length=160), nullable=False),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_plant_records")),
        sa.UniqueConstraint(
            "site_id", "source", "source_key", name=op.f("uq_plant_records_site_id_source_source_key")
        ),
    )
    with op.batch_alter_table("plant_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_plant_records_category_record_type_occurred_at"),
            ["category", "record_type", "occurred_at"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_plant_records_imported_at"), ["imported_at"], unique=False)
        for dim in ("part_h", "order_h", "party_h", "asset_h", "lot_h"):
            batch_op.create_index(batch_op.f(f"ix_plant_records_{dim}"), [dim], unique=False)

    op.create_table(
        "plant_record_lines",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["plant_records.record_id"],
            name=op.f("fk_plant_record_lines_record_id_plant_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", "line_id", name=op.f("pk_plant_record_lines")),
    )
    with op.batch_alter_table("plant_record_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_plant_record_lines_line_id_record_id"), ["line_id", "record_id"], unique=False
        )

    op.create_table(
        "plant_terms",
        sa.Column("term_h", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["plant_records.record_id"],
            name=op.f("fk_plant_terms_record_id_plant_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("term_h", "record_id", name=op.f("pk_plant_terms")),
    )
    with op.batch_alter_table("plant_terms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plant_terms_record_id"), ["record_id"], unique=False)

    op.create_table(
        "plant_index_keys",
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_plant_index_keys")),
    )


def downgrade() -> None:
    op.drop_table("plant_index_keys")
    with op.batch_alter_table("plant_terms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plant_terms_record_id"))
    op.drop_table("plant_terms")
    with op.batch_alter_table("plant_record_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plant_record_lines_line_id_record_id"))
    op.drop_table("plant_record_lines")
    with op.batch_alter_table("plant_records", schema=None) as batch_op:
        for dim in ("lot_h", "asset_h", "party_h", "order_h", "part_h"):
            batch_op.drop_index(batch_op.f(f"ix_plant_records_{dim}"))
        batch_op.drop_index(batch_op.f("ix_plant_records_imported_at"))
        batch_op.drop_index(batch_op.f("ix_plant_records_category_record_type_occurred_at"))
    op.drop_table("plant_records")
