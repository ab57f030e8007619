"""Locks that hold across server replicas: what several processes on one database agree on.

Two shapes, both keyed by a name (hashed to PostgreSQL's 64-bit advisory-lock key):

* :func:`transaction_lock` — ``pg_advisory_xact_lock`` for the rest of the caller's
  transaction: a read-modify-write that two replicas could interleave (a sign-in
  failure count, the start-up configuration audit, the schema migration) runs one at a
  time. SQLite serialises writers itself and runs one host's processes only: nothing to do.
* :class:`Leadership` — which process runs a singleton background duty (the retention
  sweeper, the review escalator, the registry refresh, the MQTT publisher). On
  PostgreSQL a session-level ``pg_try_advisory_lock`` on one connection the process
  keeps for it; the database drops the lock when that process (or its connection) dies,
  and another replica takes over at its next try. On SQLite an exclusive ``flock`` of
  ``data_dir/leader-<name>.lock`` does the same for the worker processes of one host.

Each round of a duty asks :meth:`Leadership.holds` first; the check pings the held
connection, so a process whose connection was cut (a database failover) stops leading
at once instead of believing it still holds a lock the database has forgotten.

The kept connection is opened outside the engine's pool (its own ``NullPool`` engine on
the same URL): it would otherwise take one of the pool's connections away from requests
for the life of the process, and closing it really closes it, so no session lock can
ride back into the pool on a connection a request then borrows.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

__all__ = ["Leadership", "advisory_key", "transaction_lock"]

log = logging.getLogger(__name__)


def advisory_key(name: str) -> int:
    """The signed 64-bit advisory-lock key of ``name`` (stable across processes and versions)."""
    return int.from_bytes(hashlib.sha256(f"lineguard:{name}".encode()).digest()[:8], "big", signed=True)


def transaction_lock(bind: Session | Connection, name: str) -> None:
    """Hold the cluster-wide lock ``name`` until the current transaction ends (PostgreSQL only)."""
    connection = bind.connection() if isinstance(bind, Session) else bind
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key(name)})


class Leadership:
    """Which singleton duties this process leads; one per server process (``ServerContext``)."""

    def __init__(self, engine: Engine, lock_dir: Path) -> None:
        self._engine = engine
        self._lock_dir = lock_dir
        self._mutex = threading.Lock()
        self._held: set[str] = set()
        self._connection: Connection | None = None
        self._lock_engine: Engine | None = None
        self._files: dict[str, int] = {}

    @property
    def shared(self) -> bool:
        """Whether leadership is decided by the database (several hosts) or by this host's files."""
        return self._engine.dialect.name == "postgresql"

    def holds(self, name: str) -> bool:
        """Whether this process leads ``name`` now, taking the lead if nobody holds it."""
        with self._mutex:
            if self.shared:
                return self._holds_in_database(name)
            return self._holds_file(name)

    def leading(self) -> frozenset[str]:
        with self._mutex:
            return frozenset(self._held)

    def release(self, name: str | None = None) -> None:
        """Give up ``name`` (or everything); another process takes it at its next try."""
        with self._mutex:
            names = list(self._held) if name is None else [name]
            for each in names:
                self._held.discard(each)
                fd = self._files.pop(each, None)
                if fd is not None:
                    os.close(fd)  # closing the descriptor drops the flock
                elif self._connection is not None:
                    try:
                        self._run("SELECT pg_advisory_unlock(:key)", each)
                    except DBAPIError:
                        self._close()  # the database dropped every lock with the connection
            if not self._held and self._connection is not None:
                self._close()

    # -- PostgreSQL: one kept connection holds every advisory lock of this process -----------

    def _holds_in_database(self, name: str) -> bool:
        try:
            if self._connection is None:
                if self._lock_engine is None:
                    self._lock_engine = create_engine(self._engine.url, poolclass=NullPool)
                self._connection = self._lock_engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            if name in self._held:
                self._connection.execute(text("SELECT 1"))  # still connected: still held
                return True
            taken = self._run("SELECT pg_try_advisory_lock(:key)", name)
        except DBAPIError:
            log.warning("lost the database connection that held %s; leading nothing now", sorted(self._held))
            self._close()
            return False
        if taken:
            self._held.add(name)
            log.info("leading %s (advisory lock %d)", name, advisory_key(name))
        return taken

    def _run(self, sql: str, name: str) -> bool:
        assert self._connection is not None  # noqa: S101 - callers open it first
        return bool(self._connection.execute(text(sql), {"key": advisory_key(name)}).scalar())

    def _close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except DBAPIError:
                self._connection.invalidate()
        self._connection = None
        self._held.clear()

    # -- SQLite: one host, a flock per duty ------------------------------------------------------

    def _holds_file(self, name: str) -> bool:
        if name in self._held:
            return True
        self._lock_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_dir / f"leader-{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._files[name] = fd
        self._held.add(name)
        return True
