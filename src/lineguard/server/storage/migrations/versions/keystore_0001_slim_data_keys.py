"""A slimmer ``data_keys``: no ``kek_id`` index.

Every sealed field of an ingest batch writes one ``data_keys`` row, so each B-tree the
row lands in is paid a hundred times per batch (pages, WAL frames, checkpoints). The
``kek_id`` index goes: only key rotation read it, and rotation now walks the table by
key id (``wrapped_under(..., after=key_id)``), one pass instead of a search per batch;
``keys status`` and ``keys prune`` count keys per KEK with a scan.

What stays: the primary key on ``key_id`` (opening reads a key by its id) and the
``(category, object_id)`` index (crypto-shredding deletes an object's keys). Every row
is kept as it is: one wrapped key per sealed object.

Tried and not kept: the table ``WITHOUT ROWID`` on SQLite (rows in the key's B-tree, no
separate unique index). The ``(category, object_id)`` index then carries the 36-character
key id instead of a rowid: 426 bytes of pages per key against 411, and 71 more bytes of
WAL per event (``bench/profile_ingest.py --bytes``), and the upgrade would copy the table.

Revision ID: keystore_0001
Revises: ingest_0009
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "keystore_0001"
down_revision = "ingest_0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("data_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_keys_kek_id"))


def downgrade() -> None:
    with op.batch_alter_table("data_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_keys_kek_id"), ["kek_id"], unique=False)
