"""PostgreSQL: partition inspection_events, alerts and audit_log by month (SQLite: nothing).

Works on a database that already holds data: each table is renamed aside, a partitioned
table with the same columns, defaults, indexes and constraints takes its name (the
partition key added to the primary key and every unique constraint, which PostgreSQL
requires), one partition per month from the oldest row to three months ahead plus a
default partition is created in the schema ``lineguard_partitions``, the rows are
copied over, and the old table is dropped, all in the migration's one transaction.
The copy reads every row once: on a large database plan it into a maintenance window
(docs/deployment.md). Self-contained SQL on purpose: later code changes never change
what this revision does.

Revision ID: storage_0001
Revises: plantdata_0005
Create Date: 2026-12-06 08:00:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "storage_0001"
down_revision = "plantdata_0005"
branch_labels = None
depends_on = None

SCHEMA = "lineguard_partitions"
TABLES = {"inspection_events": "captured_at", "alerts": "raised_at", "audit_log": "recorded_at"}
MONTHS_AHEAD = 3


def _add_months(month: datetime, n: int) -> datetime:
    index = month.year * 12 + month.month - 1 + n
    return month.replace(year=index // 12, month=index % 12 + 1)


def _literal(moment: datetime) -> str:
    return f"'{moment:%Y-%m-%d %H:%M:%S}+00'"


def _rebuild(table: str, aside: str, *, partitioned: bool) -> None:
    """Move ``table`` aside and create it again with the same columns, defaults, indexes and
    constraints, partitioned by month (the key added to every unique constraint) or not
    (the key taken out again)."""
    bind = op.get_bind()
    key = TABLES[table]
    indexes = bind.execute(
        sa.text(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x"
            " JOIN pg_class i ON i.oid = x.indexrelid"
            " WHERE x.indrelid = to_regclass(:t)"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)"
        ),
        {"t": table},
    ).all()
    constraints = bind.execute(
        sa.text(
            "SELECT c.conname, c.contype, array_agg(a.attname ORDER BY k.n)"
            " FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)"
            " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum"
            " WHERE c.conrelid = to_regclass(:t) AND c.contype IN ('p', 'u')"
            " GROUP BY c.conname, c.contype"
        ),
        {"t": table},
    ).all()
    sequences = bind.execute(
        sa.text(
            "SELECT a.attname, pg_get_serial_sequence(:t, a.attname) FROM pg_attribute a"
            " WHERE a.attrelid = to_regclass(:t) AND a.attnum > 0 AND NOT a.attisdropped"
            " AND pg_get_serial_sequence(:t, a.attname) IS NOT NULL"
        ),
        {"t": table},
    ).all()
    for name, _ in indexes:
        op.execute(f'DROP INDEX "{name}"')
    for name, _, _ in constraints:
        op.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    op.execute(f"ALTER TABLE {table} RENAME TO {aside}")
    by = f" PARTITION BY RANGE ({key})" if partitioned else ""
    op.execute(f"CREATE TABLE {table} (LIKE {aside} INCLUDING DEFAULTS){by}")
    for column, sequence in sequences:  # the sequence outlives the table set aside
        op.execute(f"ALTER SEQUENCE {sequence} OWNED BY {table}.{column}")
    for name, kind, columns in constraints:
        cols = [c for c in columns if c != key] or list(columns)
        if partitioned:
            cols.append(key)
        what = "PRIMARY KEY" if kind == "p" else "UNIQUE"
        op.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {what} ({", ".join(cols)})')
    for _, definition in indexes:  # "CREATE INDEX ix_… ON [ONLY] public.<table> USING btree (…)"
        op.execute(definition.replace(" ON ONLY ", " ON "))


def _partition(table: str) -> None:
    key, aside = TABLES[table], f"{table}_unpartitioned"
    _rebuild(table, aside, partitioned=True)
    oldest = op.get_bind().execute(sa.text(f"SELECT min({key}) FROM {aside}")).scalar()  # noqa: S608
    now = datetime.now(UTC)
    first = min(oldest, now) if oldest is not None else now
    month = first.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last = _add_months(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0), MONTHS_AHEAD)
    while month <= last:
        end = _add_months(month, 1)
        op.execute(
            f"CREATE TABLE {SCHEMA}.{table}_p{month:%Y%m} PARTITION OF {table}"
            f" FOR VALUES FROM ({_literal(month)}) TO ({_literal(end)})"
        )
        month = end
    op.execute(f"CREATE TABLE {SCHEMA}.{table}_default PARTITION OF {table} DEFAULT")
    op.execute(f"INSERT INTO {table} SELECT * FROM {aside}")  # noqa: S608
    op.execute(f"DROP TABLE {aside}")


def _unpartition(table: str) -> None:
    aside = f"{table}_partitioned"
    _rebuild(table, aside, partitioned=False)
    op.execute(f"INSERT INTO {table} SELECT * FROM {aside}")  # noqa: S608
    op.execute(f"DROP TABLE {aside}")  # and its partitions


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    for table in TABLES:
        _partition(table)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        _unpartition(table)
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
