"""Engines and sessions, tuned per dialect.

SQLite (the default, one file under ``data_dir``): WAL journal so readers never block
the writer, ``synchronous=NORMAL`` (durable at checkpoints, safe with WAL), foreign keys
on, a busy timeout so concurrent writers wait instead of failing, and WAL checkpoints
moved off the request path (see ``storage/scheduled.py``). PostgreSQL goes
through psycopg 3; a plain ``postgresql://`` URL is pointed at that driver.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from lineguard.contracts.errors import ConfigError

__all__ = [
    "SQLITE_AUTOCHECKPOINT_PAGES",
    "SQLITE_BUSY_TIMEOUT_MS",
    "SQLITE_CACHE_KIB",
    "create_engine_for",
    "session_factory",
]

SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_AUTOCHECKPOINT_PAGES = 20_000
#: SQLite page cache per connection, KiB (filled only as pages are read).
SQLITE_CACHE_KIB = 64 * 1024


def _normalise(url: str | URL) -> URL:
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        msg = f"database URL must be sqlite:// or postgresql://, got {parsed.drivername}://"
        raise ConfigError(msg)
    return parsed


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # Checkpoints (which fsync) run in the server's background checkpointer
        # (storage/scheduled.py), not inside a request's commit; this is only the
        # safety net for processes without one.
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_AUTOCHECKPOINT_PAGES}")
        # The default page cache is 2 MiB per connection; an ingest batch touches the
        # right-hand pages of seven indexes plus the dashboard's rollup pages, and a
        # query over a quarter of rollups reads thousands of pages.
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    finally:
        cursor.close()


def _as_null(_value: None) -> None:
    return None


def _register_sqlite_adapters() -> None:
    """Bind ``None`` and ``bytes`` through sqlite3's adapter registry, unchanged.

    sqlite3 binds ``int``, ``float`` and ``str`` directly but sends every other value
    (``None``, ``bytes``) through its adaptation protocol, which looks for an adapter,
    then asks its protocol type for ``__adapt__``: that lookup on a type raises an
    ``AttributeError`` (formatted, then cleared) for each value, ~1.9k instructions. An
    ingest event binds two to three such values. A registered adapter is found first;
    these return the value as it was (NULL, the same BLOB), so what is stored is
    unchanged. Process-wide, as sqlite3's registry is; exact types only (subclasses
    keep the protocol)."""
    sqlite3.register_adapter(type(None), _as_null)
    sqlite3.register_adapter(bytes, bytes)  # bytes(b) is b for an exact bytes object


def create_engine_for(url: str | URL, *, password: str | None = None, pool_size: int = 5) -> Engine:
    """An engine for ``url`` (SQLite or PostgreSQL) with LineGuard's connection settings.

    ``password`` comes from a :class:`~lineguard.config.secrets.SecretRef`, never from
    the URL in the config file.
    """
    parsed = _normalise(url)
    if password is not None:
        parsed = parsed.set(password=password)
    if parsed.get_backend_name() == "sqlite":
        _register_sqlite_adapters()
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            # The most recently returned connection first. SQLite drops a connection's
            # whole page cache when another connection has committed since its last
            # transaction; handing out the connection idle longest (FIFO) meant every
            # ingest batch re-read its pages (read syscalls in 5 s of paced ingest:
            # 17,800 FIFO, 2,800 LIFO).
            pool_use_lifo=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(parsed, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (views serialise after commit)."""
    return sessionmaker(engine, expire_on_commit=False)
