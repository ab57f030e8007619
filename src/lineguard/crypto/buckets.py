"""Bucket data keys: one data key for many records of one bucket, each field still bound to its record.

Most objects get a data key of their own (:mod:`lineguard.crypto.envelope`). A caller
may instead name a *bucket* for records that need no erasure one by one (the server
buckets inspection-event part ids by line and hour of capture): every field of the
bucket is sealed under the bucket's one data key, with a random nonce per field and the
field's own record in the associated data (sealed v2), so a field moved to another
record, of the same bucket or another, fails the tag.

Naming rule: a bucket's name starts with ``#`` (record object ids never do: node,
site and line ids start with a letter or digit), and its key row is an ordinary
``data_keys`` row whose ``object_id`` is the bucket's name. Its key id is derived from
``(category, bucket)`` (:func:`bucket_key_id`), so writers that create the same bucket's
key at once (two workers, several replicas) insert the same primary key: the first
insert wins, the others do nothing and read the winner's key (``put_if_absent``), and
every writer seals under that one key. The derived id is a UUIDv8 (a random UUIDv7 never
equals one), so a bucket key's id cannot collide with a per-object key's.

:class:`BucketKeyCache` keeps a process's recent bucket keys unwrapped, so the wrap,
the key row and the AES key schedule happen once per bucket, not once per field or
batch. An entry is re-read from the store after ``ttl_s``: a key shredded meanwhile is
not used for long.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lineguard.contracts.errors import CryptoError
from lineguard.crypto.sealed import KEY_ID_PREFIX

__all__ = ["BUCKET_MARK", "BucketKey", "BucketKeyCache", "bucket_key_id", "is_bucket"]

#: First character of every bucket name, and of no record's object id.
BUCKET_MARK = "#"
_DOMAIN = b"lineguard/bucket-key/v1|"


def is_bucket(object_id: str) -> bool:
    """Whether ``object_id`` names a bucket of records rather than one record."""
    return object_id.startswith(BUCKET_MARK)


def bucket_key_id(category: str, bucket: str) -> str:
    """The data-key id of ``bucket``'s key in ``category``: ``dek_`` + 32 hex digits.

    SHA-256 of the category and bucket, cut to 128 bits and stamped as a UUIDv8 (version
    nibble 8, RFC 9562 variant): the same bucket always gets the same id, on every
    worker and replica, which is what makes concurrent creation converge on one key.
    """
    if not is_bucket(bucket):
        msg = f"a bucket name starts with {BUCKET_MARK!r}, got {bucket[:40]!r}"
        raise CryptoError(msg)
    digest = bytearray(hashlib.sha256(_DOMAIN + f"{category}|{bucket}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x80  # version 8: custom, never a UUIDv7
    digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC 9562 variant
    return KEY_ID_PREFIX + digest.hex()


@dataclass(frozen=True)
class BucketKey:
    """A bucket's data key, unwrapped, ready to seal (never in a repr)."""

    key_id: str
    aead: AESGCM = field(repr=False)
    dek: bytes = field(repr=False)
    #: ``time.monotonic()`` after which the key is read from the store again.
    fresh_until: float = field(repr=False)


class BucketKeyCache:
    """Recent bucket keys of one process, by ``(category, bucket)``; bounded and short-lived.

    Shared by every envelope of one server process (the per-batch envelopes of ingest
    included), so each bucket's key is created or read once per ``ttl_s``, not once
    per batch. A key shredded by retention is therefore used for at most ``ttl_s`` more;
    retention shreds only buckets whose every record has expired, so what a stale
    entry seals is itself already past retention.
    """

    def __init__(self, *, max_entries: int = 1024, ttl_s: float = 300.0) -> None:
        if max_entries < 1 or ttl_s <= 0:
            msg = f"a bucket key cache needs max_entries >= 1 and ttl_s > 0, got {max_entries}, {ttl_s}"
            raise ValueError(msg)
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._keys: dict[tuple[str, str], BucketKey] = {}
        self._lock = threading.Lock()

    def get(self, category: str, bucket: str) -> BucketKey | None:
        key = self._keys.get((category, bucket))
        if key is None or key.fresh_until < time.monotonic():
            return None
        return key

    def put(self, category: str, bucket: str, key_id: str, dek: bytes) -> BucketKey:
        entry = BucketKey(key_id, AESGCM(dek), dek, time.monotonic() + self.ttl_s)
        with self._lock:
            self._keys.pop((category, bucket), None)
            while len(self._keys) >= self.max_entries:  # the oldest entry first (insertion order)
                del self._keys[next(iter(self._keys))]
            self._keys[(category, bucket)] = entry
        return entry

    def forget(self, category: str, bucket: str) -> None:
        with self._lock:
            self._keys.pop((category, bucket), None)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return (
            f"BucketKeyCache(entries={len(self._keys)}, max_entries={self.max_entries}, ttl_s={self.ttl_s})"
        )
