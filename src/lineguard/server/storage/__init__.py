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
"""

from __future__ import annotations

from lineguard.server.storage._base import Base, UtcDateTime, utcnow
from lineguard.server.storage._bulk import TableRows, insert_many, insert_rows
from lineguard.server.storage._engine import create_engine_for, session_factory
from lineguard.server.storage._locks import Leadership, advisory_key, transaction_lock
from lineguard.server.storage._migrate import alembic_config, current_heads, load_all_models, upgrade_to_head
from lineguard.server.storage._open import database_url, open_engine, open_storage, opened_storage

__all__ = [
    "Base",
    "Leadership",
    "TableRows",
    "UtcDateTime",
    "advisory_key",
    "alembic_config",
    "create_engine_for",
    "current_heads",
    "database_url",
    "insert_many",
    "insert_rows",
    "load_all_models",
    "open_engine",
    "open_storage",
    "opened_storage",
    "session_factory",
    "transaction_lock",
    "upgrade_to_head",
    "utcnow",
]
