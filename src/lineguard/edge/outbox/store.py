"""The durable outbox: every event, alert and work-order trigger lands here first.

A SQLite database in WAL mode under ``data_dir/outbox/outbox.db``. :meth:`Outbox.put`
commits before it returns, so anything that reached the outbox is sent eventually,
whatever happens to the network, the server or this process: with
``synchronous=NORMAL`` (the default) a committed row survives the process being
killed at any instant; with ``fsync=True`` (``synchronous=FULL``) it also survives a
power cut, for one disk flush per event. Each row
carries the idempotency key minted when the item was created; a resend after a crash
between "server accepted" and "marked sent" is deduplicated by the server.

Delivered rows are marked sent and pruned after ``keep_sent_hours``, or, with
``delete_on_ack`` (``keep_sent_hours: 0``), deleted as soon as the server acknowledges
them: the server holds them then, and a kept copy was most of the outbox's size (one
row is ~850 bytes with its indexes; a camera at 8 fps sends ~33,600 rows an hour, so
an hour of delivered rows was ~27 MiB, docs/benchmarks.md). Under disk pressure
:meth:`shed` frees space in a fixed order that never touches a fail: delivered rows
first, then the oldest undelivered *pass* events.

A new database uses SQLite's incremental auto-vacuum, and :meth:`release_free_pages`
(housekeeping) gives the pages of deleted rows back to the file system, so the file
shrinks after a backlog is delivered instead of staying at its largest size. The WAL
is truncated to ``WAL_LIMIT_BYTES`` after each checkpoint. A database created before
keeps its mode (changing it needs a full ``VACUUM``); its free pages are still reused.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lineguard.contracts.events import Alert, InspectionEvent, PartVerdict, Verdict, WorkOrderTrigger
from lineguard.contracts.ppe import PpeCounts
from lineguard.contracts.stages import StageResult

__all__ = ["Outbox", "OutboxItem", "OutboxKind", "OutboxMessage"]

OutboxKind = Literal["event", "alert", "work_order", "part", "stage", "ppe"]
OutboxMessage = InspectionEvent | Alert | WorkOrderTrigger | PartVerdict | StageResult | PpeCounts
#: The write-ahead log is cut back to this after a checkpoint (SQLite leaves it at its peak).
WAL_LIMIT_BYTES = 1 << 20

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    verdict TEXT,
    body BLOB NOT NULL,
    created_at REAL NOT NULL,
    sent_at REAL,
    status TEXT NOT NULL DEFAULT 'pending'
);
CREATE INDEX IF NOT EXISTS items_pending ON items (status, seq);
"""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    seq: int
    kind: OutboxKind
    idempotency_key: str
    body: bytes


def _kind_of(item: OutboxMessage) -> OutboxKind:
    if isinstance(item, InspectionEvent):
        return "event"
    if isinstance(item, PartVerdict):
        return "part"
    if isinstance(item, StageResult):
        return "stage"
    if isinstance(item, PpeCounts):
        return "ppe"
    return "alert" if isinstance(item, Alert) else "work_order"


class Outbox:
    """Thread-safe durable queue (one connection guarded by a lock)."""

    def __init__(self, path: Path, *, fsync: bool = False, delete_on_ack: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self.delete_on_ack = delete_on_ack
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        # Only takes effect on a database without tables yet (a new file): see the module docstring.
        self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
        self._db.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
        self._db.executescript(_SCHEMA)
        self.shed_count = 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def put(self, item: OutboxMessage) -> int:
        """Store ``item`` durably; returns its sequence number. A repeated key is ignored."""
        verdict = item.verdict.value if isinstance(item, InspectionEvent) else None
        body = item.model_dump_json().encode()
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO items (kind, idempotency_key, verdict, body, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (_kind_of(item), item.idempotency_key, verdict, body, time.time()),
            )
            return int(cur.lastrowid or 0)

    def pending(self, limit: int) -> list[OutboxItem]:
        """The oldest undelivered items, at most ``limit``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, kind, idempotency_key, body FROM items WHERE status = 'pending' "
                "ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [OutboxItem(int(s), k, i, bytes(b)) for s, k, i, b in rows]

    def _mark(self, seqs: list[int], status: str) -> None:
        if not seqs:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "UPDATE items SET status = ?, sent_at = ? WHERE seq = ?",
                [(status, time.time(), s) for s in seqs],
            )
            self._db.execute("COMMIT")

    def mark_sent(self, seqs: list[int]) -> None:
        """The server acknowledged these: marked sent, or deleted with ``delete_on_ack``."""
        if not self.delete_on_ack:
            self._mark(seqs, "sent")
            return
        if not seqs:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("DELETE FROM items WHERE seq = ?", [(s,) for s in seqs])
            self._db.execute("COMMIT")

    def mark_rejected(self, seqs: list[int]) -> None:
        """The server refused these as invalid: keep them for inspection, stop resending."""
        self._mark(seqs, "rejected")

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM items GROUP BY status").fetchall()
        return {str(s): int(n) for s, n in rows}

    def backlog(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM items WHERE status = 'pending'").fetchone()
        return int(row[0])

    def keys(self) -> set[str]:
        """Every idempotency key held (any status): what a test checks against the server."""
        with self._lock:
            return {str(r[0]) for r in self._db.execute("SELECT idempotency_key FROM items")}

    def used_bytes(self) -> int:
        """Bytes of live pages (deleted rows' pages are reused, so they do not count)."""
        with self._lock:
            page_size = self._db.execute("PRAGMA page_size").fetchone()[0]
            pages = self._db.execute("PRAGMA page_count").fetchone()[0]
            free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
        wal = self.path.with_name(self.path.name + "-wal")
        return int(page_size) * (int(pages) - int(free)) + (wal.stat().st_size if wal.exists() else 0)

    def release_free_pages(self) -> int:
        """Give the pages of deleted rows back to the file system (incremental auto-vacuum);
        returns how many were free. A database without auto-vacuum only reports them."""
        with self._lock:
            free = int(self._db.execute("PRAGMA freelist_count").fetchone()[0])
            if free and int(self._db.execute("PRAGMA auto_vacuum").fetchone()[0]) == 2:
                # executescript steps the pragma to the end (execute frees one page per step).
                self._db.executescript("PRAGMA incremental_vacuum;")
            return free

    def prune_sent(self, older_than_s: float) -> int:
        with self._lock:
            cur = self._db.execute(
                "DELETE FROM items WHERE status = 'sent' AND sent_at < ?", (time.time() - older_than_s,)
            )
            return int(cur.rowcount)

    def shed(self, max_rows: int) -> int:
        """Free space: delivered rows first, then the oldest undelivered pass events; never a fail."""
        with self._lock:
            cur = self._db.execute(
                "DELETE FROM items WHERE seq IN (SELECT seq FROM items WHERE status = 'sent' "
                "ORDER BY seq LIMIT ?)",
                (max_rows,),
            )
            freed = int(cur.rowcount)
            if freed < max_rows:
                cur = self._db.execute(
                    "DELETE FROM items WHERE seq IN (SELECT seq FROM items WHERE status = 'pending' "
                    "AND kind = 'event' AND verdict = ? ORDER BY seq LIMIT ?)",
                    (Verdict.PASS.value, max_rows - freed),
                )
                shed = int(cur.rowcount)
                self.shed_count += shed
                freed += shed
            return freed
