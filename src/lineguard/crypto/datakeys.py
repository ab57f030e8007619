"""Data keys (DEKs) at rest: one wrapped DEK per sealed object, deleted to crypto-shred it.

A :class:`WrappedKey` row names the object it protects (``category`` + ``object_id``)
and the KEK it is wrapped under. :class:`DataKeyStore` is the protocol both sides
implement: :class:`SqliteDataKeyStore` here (edge node: a small SQLite file beside the
evidence store), and the SQLAlchemy table in ``lineguard.server.keystore`` on the
server. Deleting a row makes the object's ciphertext undecryptable for good, wherever
copies of it went (backups included, once they expire).

``rewrap`` is compare-and-swap on ``kek_id``, so re-wrapping during rotation never
overwrites a row another writer changed meanwhile.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring
from pathlib import Path
from typing import Protocol, runtime_checkable

from lineguard.contracts.errors import CryptoError

__all__ = ["DataKeyStore", "SqliteDataKeyStore", "WrappedKey", "dek_aad", "dek_aads", "wrapped_keys"]


@dataclass(frozen=True)
class WrappedKey:
    """A data key wrapped under a KEK, and the object it belongs to."""

    key_id: str
    category: str
    object_id: str
    kek_id: str
    wrapped: bytes = field(repr=False)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def wrapped_keys(
    key_ids: Sequence[str],
    category: str,
    object_ids: Sequence[str],
    kek_id: str,
    wrapped: Sequence[bytes],
    created_at: datetime,
) -> list[WrappedKey]:
    """The :class:`WrappedKey` records of one ``seal_many`` call, equal to constructing each.

    A frozen dataclass's ``__init__`` sets every field through ``object.__setattr__``:
    ~10,700 instructions per record, more than sealing the field's 10 bytes costs
    (``bench/profile_ingest.py --instructions``). Filling each new instance's ``__dict__``
    directly gives the same frozen, equal objects for ~4,600 (an ingest batch makes one
    per sealed field).
    """
    new = object.__new__
    records: list[WrappedKey] = []
    append = records.append
    for key_id, object_id, key in zip(key_ids, object_ids, wrapped, strict=True):
        record = new(WrappedKey)
        record.__dict__.update(
            key_id=key_id,
            category=category,
            object_id=object_id,
            kek_id=kek_id,
            wrapped=key,
            created_at=created_at,
        )
        append(record)
    return records


def dek_aad(key_id: str, category: str, object_id: str) -> bytes:
    """Associated data of a DEK wrap: a wrapped key moved to another row will not unwrap.

    ``lineguard/dek/v1|`` and the canonical JSON of the three fields, formatted in
    sorted-key order (byte-for-byte ``canonical_strings``; a property test holds the two
    together): one is built for every sealed field.
    """
    e = encode_basestring
    text = f'{{"category":{e(category)},"key_id":{e(key_id)},"object_id":{e(object_id)}}}'
    return b"lineguard/dek/v1|" + text.encode()


def dek_aads(key_ids: Sequence[str], category: str, object_ids: Sequence[str]) -> list[bytes]:
    """:func:`dek_aad` of each ``(key_id, object_id)`` of one category, the same bytes
    (a test holds the two together) with the category's part built once per call."""
    e = encode_basestring
    head = f'{{"category":{e(category)},"key_id":'
    return [
        b"lineguard/dek/v1|" + f'{head}{e(key_id)},"object_id":{e(object_id)}}}'.encode()
        for key_id, object_id in zip(key_ids, object_ids, strict=True)
    ]


@runtime_checkable
class DataKeyStore(Protocol):
    """Persistence of wrapped data keys (every implementation runs the same conformance tests)."""

    def put(self, key: WrappedKey) -> None:
        """Insert a new wrapped key; :class:`CryptoError` if ``key_id`` exists."""
        ...

    def put_many(self, keys: Sequence[WrappedKey]) -> None:
        """Insert several wrapped keys in one transaction (all or none)."""
        ...

    def put_if_absent(self, key: WrappedKey) -> WrappedKey:
        """Insert ``key`` unless a key of that id exists, commit, and return the stored one.

        Bucket keys (:mod:`lineguard.crypto.buckets`) have derived ids: writers creating
        one bucket's key at once all get the first writer's key back, never two keys."""
        ...

    def get(self, key_id: str) -> WrappedKey:
        """The wrapped key; :class:`CryptoError` saying it was shredded if absent."""
        ...

    def delete_object(self, category: str, object_id: str) -> int:
        """Crypto-shred: delete every data key of one object; return how many went."""
        ...

    def wrapped_under(self, kek_ids: Iterable[str], limit: int, *, after: str = "") -> list[WrappedKey]:
        """Up to ``limit`` keys wrapped under any of ``kek_ids`` whose ``key_id`` sorts after
        ``after``, in key-id order (rotation batches: one pass over the keys, each batch
        starting where the last ended, so no index on ``kek_id`` is needed)."""
        ...

    def rewrap(self, key_id: str, *, old_kek_id: str, new_kek_id: str, wrapped: bytes) -> bool:
        """Replace one wrapping if still under ``old_kek_id``; False if someone changed it."""
        ...

    def count_by_kek(self) -> dict[str, int]:
        """How many data keys each KEK wraps (a KEK with none left can be destroyed)."""
        ...


_COLUMNS = "key_id, category, object_id, kek_id, wrapped, created_at"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS data_keys (
    key_id     TEXT PRIMARY KEY,
    category   TEXT NOT NULL,
    object_id  TEXT NOT NULL,
    kek_id     TEXT NOT NULL,
    wrapped    BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS data_keys_object ON data_keys (category, object_id);
CREATE INDEX IF NOT EXISTS data_keys_kek ON data_keys (kek_id);
"""


class SqliteDataKeyStore:
    """Wrapped data keys in one SQLite file (WAL), safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        path.chmod(0o600)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a lost DEK is a lost object
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def put(self, key: WrappedKey) -> None:
        self.put_many([key])

    def put_many(self, keys: Sequence[WrappedKey]) -> None:
        rows = [
            (k.key_id, k.category, k.object_id, k.kek_id, k.wrapped, k.created_at.isoformat()) for k in keys
        ]
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("INSERT INTO data_keys VALUES (?, ?, ?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except sqlite3.IntegrityError:
                self._db.execute("ROLLBACK")
                msg = f"a data key among {[k.key_id for k in keys][:3]} already exists"
                raise CryptoError(msg) from None

    def put_if_absent(self, key: WrappedKey) -> WrappedKey:
        row = (key.key_id, key.category, key.object_id, key.kek_id, key.wrapped, key.created_at.isoformat())
        with self._lock:
            self._db.execute(
                "INSERT INTO data_keys VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key_id) DO NOTHING", row
            )
        return self.get(key.key_id)

    def get(self, key_id: str) -> WrappedKey:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM data_keys WHERE key_id = ?",  # noqa: S608 - constant columns
                (key_id,),
            ).fetchone()
        if row is None:
            msg = f"data key {key_id} does not exist: the object was crypto-shredded or never sealed here"
            raise CryptoError(msg)
        return _row(row)

    def delete_object(self, category: str, object_id: str) -> int:
        with self._lock:
            cur = self._db.execute(
                "DELETE FROM data_keys WHERE category = ? AND object_id = ?", (category, object_id)
            )
        return cur.rowcount

    def wrapped_under(self, kek_ids: Iterable[str], limit: int, *, after: str = "") -> list[WrappedKey]:
        ids = list(kek_ids)
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._db.execute(
                "SELECT key_id, category, object_id, kek_id, wrapped, created_at FROM data_keys "  # noqa: S608 - placeholders only
                f"WHERE key_id > ? AND kek_id IN ({marks}) ORDER BY key_id LIMIT ?",
                (after, *ids, limit),
            ).fetchall()
        return [_row(r) for r in rows]

    def rewrap(self, key_id: str, *, old_kek_id: str, new_kek_id: str, wrapped: bytes) -> bool:
        with self._lock:
            cur = self._db.execute(
                "UPDATE data_keys SET kek_id = ?, wrapped = ? WHERE key_id = ? AND kek_id = ?",
                (new_kek_id, wrapped, key_id, old_kek_id),
            )
        return cur.rowcount == 1

    def count_by_kek(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT kek_id, COUNT(*) FROM data_keys GROUP BY kek_id").fetchall()
        return {str(k): int(n) for k, n in rows}

    def __repr__(self) -> str:
        return f"SqliteDataKeyStore(path={str(self.path)!r})"


def _row(row: tuple[str, str, str, str, bytes, str]) -> WrappedKey:
    return WrappedKey(row[0], row[1], row[2], row[3], bytes(row[4]), datetime.fromisoformat(row[5]))
