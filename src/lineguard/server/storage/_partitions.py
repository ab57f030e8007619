"""Monthly partitions of the big time-ordered tables on PostgreSQL (SQLite: none).

``inspection_events`` (by ``captured_at``), ``alerts`` (by ``raised_at``) and
``audit_log`` (by ``recorded_at``) are declaratively partitioned by month (migration
``storage_0001``). Each month is a table ``<table>_pYYYYMM`` in the schema
``lineguard_partitions`` (out of the application schema, so the tables the models
declare are the only ones there), and ``<table>_default`` holds a row whose month has no
partition yet (a node with its clock years off, a backfill of an old month): it is
stored, never refused, and moves into its month's partition when that is created.

Why: retention drops a whole expired month in one statement instead of deleting it
row by row (and the space comes back at once, without a vacuum), and a dashboard query
over a time range reads only the months it names (partition pruning).

What partitioning costs: PostgreSQL requires the partition key in every unique
constraint, so on PostgreSQL an item is unique per ``(node_id, idempotency_key,
captured_at)`` and the audit log per ``(seq, recorded_at)``. A node resends a batch with
the same bytes, so its retries still hit the constraint; the audit chain numbers ``seq``
under the head-row lock, so it cannot repeat one either.

:func:`ensure_partitions` creates the current month and ``MONTHS_AHEAD`` more, plus a
partition for every month found in the default partition; the retention sweeper (one
leader across replicas) calls it at the start of every sweep.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, text

from lineguard.server.storage._locks import transaction_lock

__all__ = [
    "MONTHS_AHEAD",
    "PARTITION_KEYS",
    "PARTITION_SCHEMA",
    "Partition",
    "drop_partition",
    "ensure_partitions",
    "month_partitions",
    "partition_key",
]

#: Where the partitions live (``CREATE SCHEMA`` by the migration).
PARTITION_SCHEMA = "lineguard_partitions"
#: Partitioned table → its partition key (a ``timestamptz`` column).
PARTITION_KEYS: dict[str, str] = {
    "inspection_events": "captured_at",
    "alerts": "raised_at",
    "audit_log": "recorded_at",
}
#: Months created ahead of the current one.
MONTHS_AHEAD = 3
#: At most this many partitions for months found in the default partition per call.
_MAX_FROM_DEFAULT = 24
_MONTH_NAME = re.compile(r"^(?P<table>[a-z_]+)_p(?P<year>\d{4})(?P<month>\d{2})$")


@dataclass(frozen=True)
class Partition:
    """One month of one table: rows with ``start <= key < end``."""

    table: str
    name: str
    start: datetime
    end: datetime

    @property
    def qualified(self) -> str:
        return f"{PARTITION_SCHEMA}.{self.name}"


def partition_key(connection: Connection, table: str) -> str | None:
    """The partition key column of ``table`` on this database, or ``None`` (SQLite, or not partitioned)."""
    return PARTITION_KEYS.get(table) if connection.dialect.name == "postgresql" else None


def _month(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _add_months(month: datetime, n: int) -> datetime:
    index = month.year * 12 + month.month - 1 + n
    return month.replace(year=index // 12, month=index % 12 + 1)


def _partition(table: str, month: datetime) -> Partition:
    return Partition(table, f"{table}_p{month:%Y%m}", month, _add_months(month, 1))


def month_partitions(connection: Connection, table: str) -> list[Partition]:
    """The monthly partitions of ``table``, oldest first (the default partition is not one)."""
    names = connection.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_class p ON p.oid = i.inhparent"
            " WHERE p.oid = to_regclass(:table)"
        ),
        {"table": table},
    ).scalars()
    found = []
    for name in names:
        match = _MONTH_NAME.match(name)
        if match and match["table"] == table:
            found.append(_partition(table, datetime(int(match["year"]), int(match["month"]), 1, tzinfo=UTC)))
    return sorted(found, key=lambda p: p.start)


def _literal(moment: datetime) -> str:
    return f"'{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S}+00'"


def _create(connection: Connection, partition: Partition) -> None:
    """Create one month, moving its rows out of the default partition in the same transaction.

    PostgreSQL refuses a new partition while the default one holds rows of its range, so
    they are set aside in a temporary table first; inserts into the parent wait on the
    table lock until the transaction commits, so none can land in the default meanwhile.
    """
    table, key = partition.table, PARTITION_KEYS[partition.table]
    default = f"{PARTITION_SCHEMA}.{table}_default"
    start, end = _literal(partition.start), _literal(partition.end)
    connection.execute(text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
    moving = f"lg_moving_{partition.name}"
    connection.execute(text(f"CREATE TEMPORARY TABLE {moving} (LIKE {table}) ON COMMIT DROP"))
    connection.execute(
        text(
            f"WITH moved AS (DELETE FROM {default} WHERE {key} >= {start} AND {key} < {end} RETURNING *)"  # noqa: S608 - names from PARTITION_KEYS, bounds from datetimes
            f" INSERT INTO {moving} SELECT * FROM moved"
        )
    )
    connection.execute(
        text(f"CREATE TABLE {partition.qualified} PARTITION OF {table} FOR VALUES FROM ({start}) TO ({end})")
    )
    connection.execute(text(f"INSERT INTO {table} SELECT * FROM {moving}"))  # noqa: S608 - see above


def ensure_partitions(
    connection: Connection, *, now: datetime | None = None, months_ahead: int = MONTHS_AHEAD
) -> list[str]:
    """Create what is missing: this month and ``months_ahead`` more, and every month with
    rows waiting in the default partition. Returns the partitions created. PostgreSQL
    only (SQLite: nothing to do); runs in the caller's transaction, under a lock that
    makes replicas take turns."""
    if connection.dialect.name != "postgresql":
        return []
    transaction_lock(connection, "partitions")
    month = _month(now or datetime.now(UTC))
    created = []
    for table, key in PARTITION_KEYS.items():
        have = {p.name for p in month_partitions(connection, table)}
        waiting = connection.execute(
            text(
                f"SELECT DISTINCT date_trunc('month', {key} AT TIME ZONE 'UTC') AS m"  # noqa: S608 - names from PARTITION_KEYS
                f" FROM {PARTITION_SCHEMA}.{table}_default ORDER BY m LIMIT {_MAX_FROM_DEFAULT}"
            )
        ).scalars()
        wanted = [_add_months(month, i) for i in range(months_ahead + 1)]
        wanted += [m.replace(tzinfo=UTC) for m in waiting]
        for start in sorted(set(wanted)):
            partition = _partition(table, start)
            if partition.name not in have:
                _create(connection, partition)
                have.add(partition.name)
                created.append(partition.name)
    return created


def drop_partition(connection: Connection, partition: Partition) -> int:
    """Drop one month of ``partition.table``; returns how many rows it held."""
    rows = int(connection.execute(text(f"SELECT count(*) FROM {partition.qualified}")).scalar_one())  # noqa: S608
    connection.execute(text(f"DROP TABLE {partition.qualified}"))
    return rows
