"""A partial index of failing inspection events by line and time.

``ix_inspection_events_failed_line_id_captured_at`` on ``inspection_events (line_id,
captured_at) WHERE verdict = 'fail'``, on both engines. A line's failures over a day read
the whole day's rows through the ``captured_at`` index at 100 M-event density (19,240
pages, 321 ms cold against a 300 ms budget); this index holds only the failing events (1 in
20), so that count is an index-only scan of a few dozen pages, for ~2 bytes per event and
one index insert per failing event (docs/benchmarks.md, "Monthly partitions").

On PostgreSQL ``inspection_events`` is partitioned by month (storage_0001): an index created
on the parent is created on every partition, and every partition made later (``PARTITION
OF`` or ``ATTACH PARTITION``) gets it too. The build reads every partition once under a
lock that holds ingest back; on a large database build it beforehand without the lock
(``IF NOT EXISTS`` then makes this revision a no-op; docs/deployment.md). Self-contained
SQL on purpose: later code changes never change what this revision does.

Revision ID: ingest_0009
Revises: ingest_0008
Create Date: 2026-12-06 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ingest_0009"
down_revision = "ingest_0008"
branch_labels = None
depends_on = None

NAME = "ix_inspection_events_failed_line_id_captured_at"
PREDICATE = "verdict = 'fail'"


def upgrade() -> None:
    op.create_index(
        NAME,
        "inspection_events",
        ["line_id", "captured_at"],
        postgresql_where=sa.text(PREDICATE),
        sqlite_where=sa.text(PREDICATE),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index(NAME, table_name="inspection_events", if_exists=True)
