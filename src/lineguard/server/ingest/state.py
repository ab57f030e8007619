"""What ingest keeps for the app's lifetime: the per-node rate limit and the write gate.

``create_app`` builds one :class:`IngestState` from the settings and the engine; the
routes in :mod:`.views` use it through ``ServerContext.ingest``.
"""

from __future__ import annotations

import fcntl
import os
import threading
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from lineguard.config.server import ServerConfig
from lineguard.server.limits import TokenBuckets

if TYPE_CHECKING:  # it imports the context, which imports this module
    from lineguard.server.ingest.mqtt import MqttIngest

__all__ = ["IngestState", "SqliteWriteGate"]


class SqliteWriteGate:
    """One SQLite writer at a time: threads of this process take turns on a lock and,
    with ``http.workers`` > 1, processes on an exclusive ``flock`` of a file beside the
    data (released by the kernel if a worker dies). Waiting here is a queue; waiting in
    SQLite's busy handler is a series of sleeps of up to 100 ms, which would dominate
    the latency tail."""

    def __init__(self, lock_file: Path | None) -> None:
        self._thread_lock = threading.Lock()
        self._lock_file = lock_file
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        if self._lock_file is not None:
            try:
                if self._fd is None:  # opened on first use, under the thread lock
                    self._fd = os.open(self._lock_file, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                self._thread_lock.release()
                raise

    def __exit__(self, *_exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()


@dataclass
class IngestState:
    """The node rate limit (429) and where write transactions wait for their turn."""

    buckets: TokenBuckets
    #: PostgreSQL: nowhere, it writes concurrently; SQLite: :class:`SqliteWriteGate`.
    write_gate: AbstractContextManager[object]
    #: The MQTT subscription (``ingest.mqtt``), once the lifespan made one.
    mqtt: MqttIngest | None = None

    @classmethod
    def build(cls, settings: ServerConfig, engine: Engine) -> IngestState:
        # Each server process keeps its own buckets; together they allow the configured rate.
        limits, workers = settings.ingest, settings.http.workers
        buckets = TokenBuckets(
            rate=limits.requests_per_second / workers, burst=max(1, limits.burst // workers)
        )
        gate: AbstractContextManager[object] = nullcontext()
        if engine.dialect.name == "sqlite":
            gate = SqliteWriteGate(settings.data_dir / "ingest-write.lock" if workers > 1 else None)
        return cls(buckets=buckets, write_gate=gate)
