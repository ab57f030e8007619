"""``inspection_events`` and ``part_verdicts`` without their ``(verdict, time)`` indexes.

Every ingested event is written into each B-tree of ``inspection_events``, so an index
is paid on every event whether or not anything reads it. No query reads this one: every
read of the raw table names an event id, a camera and a time range, a time range alone
(retention), a row id (the MQTT publisher) or a line's failures; the last is served by
``ingest_0009``'s partial index ``(line_id, captured_at) WHERE verdict = 'fail'``, and
PostgreSQL's planner chose the ``captured_at`` index over this one for it before that
index existed (docs/benchmarks.md, "Monthly partitions"). A verdict alone (three values)
leads nowhere selective. Dropping it saves SQLite's insert into it on every event
(docs/benchmarks.md, "tenth pass"). The same holds for ``part_verdicts (verdict,
first_seen_at)``, written once per part: its reads name a part verdict id, a decisive
event, a camera and frame range, a time range (retention), or a line and time range
(ground-truth scoring); none filters on the verdict.

On PostgreSQL ``inspection_events`` is partitioned by month (storage_0001): dropping the
parent's index drops its piece on every partition (``part_verdicts`` is not partitioned).
Self-contained on purpose: later code changes never change what this revision does.

Revision ID: ingest_0010
Revises: nodes_0002
Create Date: 2026-12-07 07:00:00
"""

from __future__ import annotations

from alembic import op

revision = "ingest_0010"
down_revision = "nodes_0002"
branch_labels = None
depends_on = None

#: (index, table, its columns)
DROPPED = (
    ("ix_inspection_events_verdict_captured_at", "inspection_events", ["verdict", "captured_at"]),
    ("ix_part_verdicts_verdict_first_seen_at", "part_verdicts", ["verdict", "first_seen_at"]),
)


def upgrade() -> None:
    for name, table, _ in DROPPED:
        op.drop_index(name, table_name=table, if_exists=True)


def downgrade() -> None:
    for name, table, columns in DROPPED:
        op.create_index(name, table, columns, unique=False, if_not_exists=True)
