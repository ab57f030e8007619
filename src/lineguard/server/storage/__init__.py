"""Storage of the plant server: one declarative ``Base`` (one metadata for every
domain), an engine factory tuned per dialect, a session factory, and Alembic
migrations applied programmatically at start-up.

Every domain puts its tables in ``server/<domain>/models.py`` on :class:`Base` and adds
an Alembic revision under ``server/storage/migrations/versions/`` whose
``down_revision`` is the current head; a test checks there is exactly one head and that
``upgrade head`` yields exactly ``Base.metadata`` on SQLite and PostgreSQL.

:func:`transaction_lock` and :class:`Leadership` are how several server replicas on one
PostgreSQL agree (advisory locks); migrations at start-up run under one.

:func:`open_storage` (and :func:`open_engine`, :func:`database_url`) is the one way the
server and the command-line tools open the database from ``server.yaml``.

On PostgreSQL the event, alert and audit tables are partitioned by month
(:func:`ensure_partitions` creates months ahead, :func:`drop_partition` lets retention
drop an expired one whole); on SQLite they are plain tables.
"""

from __future__ import annotations

from lineguard.server.storage._base import Base, UtcDateTime, utcnow
from lineguard.server.storage._bulk import TableRows, insert_columns, insert_many, insert_rows
from lineguard.server.storage._driver import driver_execute
from lineguard.server.storage._engine import create_engine_for, session_factory
from lineguard.server.storage._locks import Leadership, advisory_key, transaction_lock
from lineguard.server.storage._migrate import alembic_config, current_heads, load_all_models, upgrade_to_head
from lineguard.server.storage._open import database_url, open_engine, open_storage, opened_storage
from lineguard.server.storage._partitions import (
    PARTITION_KEYS,
    PARTITION_SCHEMA,
    Partition,
    drop_partition,
    ensure_partitions,
    month_partitions,
    partition_key,
)

__all__ = [
    "PARTITION_KEYS",
    "PARTITION_SCHEMA",
    "Base",
    "Leadership",
    "Partition",
    "TableRows",
    "UtcDateTime",
    "advisory_key",
    "alembic_config",
    "create_engine_for",
    "current_heads",
    "database_url",
    "driver_execute",
    "drop_partition",
    "ensure_partitions",
    "insert_columns",
    "insert_many",
    "insert_rows",
    "load_all_models",
    "month_partitions",
    "open_engine",
    "open_storage",
    "opened_storage",
    "partition_key",
    "session_factory",
    "transaction_lock",
    "upgrade_to_head",
    "utcnow",
]
