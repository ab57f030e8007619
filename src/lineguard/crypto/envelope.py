"""Envelope encryption: a fresh AES-256 data key per object, wrapped by the active KEK.

::

    env = Envelope(keyring, SqliteDataKeyStore(path))
    blob = env.seal(image_bytes, object_id="evd_0193...", category="evidence")
    env.open(blob, object_id="evd_0193...", category="evidence")   # → image_bytes
    env.shred(object_id="evd_0193...", category="evidence")       # blob is now noise

Each object gets its own 256-bit data key (DEK) and a random 96-bit nonce; with one
message per key, nonce reuse cannot happen. The DEK is wrapped by the keyring's active
KEK, bound to the object, and stored in a :class:`DataKeyStore`; the ciphertext carries
only the DEK's id (:mod:`lineguard.crypto.sealed`, version 2; version 1 objects still
open). Opening checks that the sealed object belongs to the record being read (its
data key's row names the record, and the record is in the associated data), so a
ciphertext moved to another record fails. Deleting the wrapped DEK crypto-shreds the
object.

Categories named in ``bucketed`` may instead share one data key per *bucket* of records
(:meth:`Envelope.seal_in_buckets`, :mod:`lineguard.crypto.buckets`): the server seals
inspection-event part ids under one key per line and hour. Each field still has its
own random nonce and its record in the associated data; opening accepts a bucket key
only for a bucketed category and a v2 object, and relies on the tag for the record.
Shredding then works per bucket, not per record.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lineguard.contracts.errors import CryptoError
from lineguard.contracts.ids import new_ids
from lineguard.crypto.buckets import BUCKET_MARK, BucketKey, BucketKeyCache, bucket_key_id, is_bucket
from lineguard.crypto.datakeys import DataKeyStore, WrappedKey, dek_aad, dek_aads, wrapped_keys
from lineguard.crypto.kek import KEY_BYTES, KekProvider
from lineguard.crypto.sealed import (
    KEY_ID_PREFIX,
    NONCE_BYTES,
    V2_AAD_END,
    V2_HEAD,
    encode_v2_prefix,
    parse_sealed,
    record_binding,
    v2_aad,
    v2_aad_head,
)

__all__ = ["Envelope"]

_ID = re.compile(r"[A-Za-z0-9_.:/#-]{1,256}")
#: Random bytes per sealed object: its DEK and its nonce.
_SECRET = KEY_BYTES + NONCE_BYTES
KEY_ID_AT = len(KEY_ID_PREFIX)


#: Many ids checked by one match: each id of :data:`_ID` followed by a newline.
_IDS = re.compile(r"(?:[A-Za-z0-9_.:/#-]{1,256}\n)*")


def _check_id(name: str, value: str) -> None:
    if not _ID.fullmatch(value):
        msg = f"{name} must be 1-256 characters of [A-Za-z0-9_-.:/#], got {value[:40]!r}"
        raise CryptoError(msg)


def _plain_ids(object_ids: list[str]) -> bool:
    """Whether every id matches :data:`_ID` and none names a bucket: one regular-expression
    match over the ids joined, where one match per id cost ~2.6k instructions (mostly the
    call) and the batch seals a hundred. A newline is no id character: when the joined
    text has exactly one between each two ids, no id holds one, so the pieces the pattern
    matches are the ids themselves. ``False`` also when that cannot be decided this way
    (the caller then checks id by id, which names the id at fault)."""
    joined = "\n".join(object_ids)
    return (
        joined.count("\n") == len(object_ids) - 1
        and _IDS.fullmatch(joined + "\n") is not None
        and not joined.startswith(BUCKET_MARK)
        and "\n" + BUCKET_MARK not in joined
    )


class Envelope:
    """Seals and opens objects. Holds no key material itself, except the unwrapped keys of
    recent buckets in :attr:`buckets` (a process already holds its KEKs unwrapped)."""

    def __init__(
        self,
        keys: KekProvider,
        store: DataKeyStore,
        *,
        bucketed: Collection[str] = (),
        buckets: BucketKeyCache | None = None,
    ) -> None:
        """``bucketed``: the categories whose records may share a bucket's data key
        (:meth:`seal_in_buckets`); every other category keeps one key per object, and
        a bucket key found for it is refused. ``buckets``: the process's cache of
        bucket keys (envelopes made per batch share their server's)."""
        self.keys = keys
        self.store = store
        self.bucketed = frozenset(bucketed)
        self.buckets = buckets if buckets is not None else BucketKeyCache()
        self._pending: ContextVar[list[WrappedKey] | None] = ContextVar(f"envelope-{id(self)}", default=None)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Store the data keys of every seal in this block with one write, at its end.

        Storing a key is a durable database write; an ingest batch of a hundred events
        pays for it once instead of a hundred times. If the block raises, its keys are
        dropped (the caller's records were not written either). Nested blocks join the
        outermost one.
        """
        if self._pending.get() is not None:
            yield
            return
        pending: list[WrappedKey] = []
        token = self._pending.set(pending)
        try:
            yield
        finally:
            self._pending.reset(token)
        if pending:
            self.store.put_many(pending)

    def seal(self, plaintext: bytes, *, object_id: str, category: str) -> bytes:
        """Encrypt ``plaintext`` for the record ``(category, object_id)`` under a fresh DEK."""
        return self.seal_many([(object_id, plaintext)], category=category)[0]

    def seal_many(self, items: Sequence[tuple[str, bytes]], *, category: str) -> list[bytes]:
        """:meth:`seal` for many ``(object_id, plaintext)`` records of one category.

        Each object still gets its own DEK, nonce, key id and record binding: the
        output is exactly what one :meth:`seal` per item would give. What is shared is
        the per-call work (checking the category, finding the active KEK, the clock,
        drawing random bytes) and, outside :meth:`batch`, the write of the data keys
        (one, all or none). Nothing is sealed if any ``object_id`` is invalid.
        """
        _check_id("category", category)
        if not items:
            return []
        object_ids = [object_id for object_id, _ in items]
        if not _plain_ids(object_ids):  # a bucket's name is a valid id here: checked one by one
            valid = _ID.fullmatch
            for object_id in object_ids:
                if not valid(object_id):
                    _check_id("object_id", object_id)
        kek = self.keys.active()
        kek_id = kek.kek_id
        created_at = datetime.now(UTC)
        count = len(items)
        # The DEKs and nonces, the key ids and the KEK's wrap nonces each from one call to
        # the OS's CSPRNG (random bytes, each used once): os.urandom releases and retakes
        # the GIL, and three calls per record made a batch's worker thread and the event
        # loop hand the GIL back and forth hundreds of times.
        randomness = os.urandom(_SECRET * count)
        key_ids = new_ids("dek", count)
        wrapped = kek.wrap_many(
            [randomness[at : at + KEY_BYTES] for at in range(0, _SECRET * count, _SECRET)],
            dek_aads(key_ids, category, object_ids),
        )
        records = wrapped_keys(key_ids, category, object_ids, kek_id, wrapped, created_at)
        sealed: list[bytes] = []
        append = sealed.append
        binding = record_binding(category)
        fromhex = bytes.fromhex
        encode_v2_prefix(key_ids[0])  # new_ids' form, checked once: every id of the call has it
        at = 0
        for key_id, (object_id, plaintext) in zip(key_ids, items, strict=True):
            nonce = randomness[at + KEY_BYTES : at + _SECRET]
            # sealed.encode_v2_prefix without its per-id check (done once above): magic ‖ 2 ‖ key id.
            # The associated data comes from the same sealed.v2_aad the reader uses.
            prefix = V2_HEAD + fromhex(key_id[KEY_ID_AT:])
            aad = v2_aad(prefix, binding, object_id)
            append(prefix + nonce + AESGCM(randomness[at : at + KEY_BYTES]).encrypt(nonce, plaintext, aad))
            at += _SECRET
        pending = self._pending.get()
        if pending is None:
            if records:
                self.store.put_many(records)
        else:
            pending.extend(records)
        return sealed

    def seal_in_buckets(self, items: Sequence[tuple[str, str, bytes]], *, category: str) -> list[bytes]:
        """Seal each ``(object_id, bucket, plaintext)`` under its bucket's one data key.

        The bucket's key is created once (wrapped, its row stored and committed before
        anything is sealed under it, so it can never be lost with a rolled-back batch)
        or taken from :attr:`buckets`; concurrent creators converge on one key
        (:meth:`~lineguard.crypto.datakeys.DataKeyStore.put_if_absent`). Each field gets
        a random 96-bit nonce and its record in the associated data: a v2 object that
        only its own record opens. Nothing is stored per field. Nothing is sealed if an
        id is invalid. A category this envelope does not bucket is sealed as
        :meth:`seal_many` does, one key per record.
        """
        _check_id("category", category)
        if not items:
            return []
        valid = _ID.fullmatch
        if _plain_ids([object_id for object_id, _, _ in items]):
            # Every record id is good: only the buckets are left, each in the order it first
            # appears (the first bad one is the one the item-by-item walk would name).
            for bucket in dict.fromkeys([bucket for _, bucket, _ in items]):
                if not (valid(bucket) and is_bucket(bucket)):
                    _check_id("bucket", bucket)
                    bucket_key_id(category, bucket)  # raises: not a bucket name
        else:
            checked = None  # the bucket last checked: items of one bucket come together
            for object_id, bucket, _ in items:
                if not valid(object_id) or is_bucket(object_id):
                    _check_id("object_id", object_id)
                    msg = f"object_id {object_id[:40]!r} is a bucket name, not a record"
                    raise CryptoError(msg)
                if bucket != checked:
                    if not (valid(bucket) and is_bucket(bucket)):
                        _check_id("bucket", bucket)
                        bucket_key_id(category, bucket)  # raises: not a bucket name
                    checked = bucket
        if category not in self.bucketed:
            # Not a bucketed category (it may hold personal data, or this envelope buckets
            # nothing): each record gets its own key, the safe direction.
            return self.seal_many(
                [(object_id, plaintext) for object_id, _, plaintext in items], category=category
            )
        # Per bucket, once: its key's encrypt, the sealed prefix (magic, version, key id) and
        # the start of every record's associated data; per record only its id is added
        # (every id was checked above, so JSON would not escape it: see sealed.v2_aad_head).
        binding = record_binding(category)
        keys: dict[str, tuple[Callable[[bytes, bytes, bytes], bytes], bytes, bytes]] = {}
        for bucket in {bucket for _, bucket, _ in items}:
            key = self._bucket_key(category, bucket)
            prefix = V2_HEAD + bytes.fromhex(key.key_id[KEY_ID_AT:])
            keys[bucket] = (key.aead.encrypt, prefix, v2_aad_head(prefix, binding))
        nonces = os.urandom(NONCE_BYTES * len(items))
        end = V2_AAD_END
        sealed: list[bytes] = []
        append = sealed.append
        at = 0
        for object_id, bucket, plaintext in items:
            encrypt, prefix, head = keys[bucket]
            nonce = nonces[at : at + NONCE_BYTES]
            append(prefix + nonce + encrypt(nonce, plaintext, head + object_id.encode() + end))
            at += NONCE_BYTES
        return sealed

    def _bucket_key(self, category: str, bucket: str) -> BucketKey:
        """The bucket's data key: cached, or read from the store, or created there."""
        cached = self.buckets.get(category, bucket)
        if cached is not None:
            return cached
        key_id = bucket_key_id(category, bucket)
        kek = self.keys.active()
        dek = os.urandom(KEY_BYTES)
        wrapped = kek.wrap(dek, dek_aad(key_id, category, bucket))
        mine = WrappedKey(key_id, category, bucket, kek.kek_id, wrapped, datetime.now(UTC))
        # The store's answer is the key every writer uses: ours if our insert came first,
        # else the one another worker or replica stored a moment before (ours is dropped).
        stored = self.store.put_if_absent(mine)
        if (stored.key_id, stored.category, stored.object_id) != (key_id, category, bucket):
            msg = (
                f"data key {key_id} belongs to {stored.category}/{stored.object_id}, "
                f"expected bucket {category}/{bucket}"
            )
            raise CryptoError(msg)
        if (stored.kek_id, stored.wrapped) != (kek.kek_id, wrapped):
            dek = self.keys.get(stored.kek_id).unwrap(stored.wrapped, dek_aad(key_id, category, bucket))
        return self.buckets.put(category, bucket, key_id, dek)

    def open(self, sealed: bytes, *, object_id: str, category: str) -> bytes:
        """Decrypt a sealed object of the record ``(category, object_id)``.

        Its data key is the record's own, or (v2, bucketed category) its bucket's: a
        bucket key names no record, so the record is checked by the tag alone (the
        associated data names the record being read)."""
        parsed = parse_sealed(sealed)
        header = parsed.header
        if header is not None and (header.category, header.object_id) != (category, object_id):
            msg = (
                f"sealed object belongs to {header.category}/{header.object_id}, "
                f"expected {category}/{object_id}: refusing to open it for another record"
            )
            raise CryptoError(msg)
        record = self._pending_key(parsed.key_id) or self.store.get(parsed.key_id)
        if (record.category, record.object_id) != (category, object_id) and not self._opens_bucket(
            record, category, header is None
        ):
            msg = (
                f"data key {parsed.key_id} belongs to {record.category}/{record.object_id}, "
                f"expected {category}/{object_id}: refusing to open it for another record"
            )
            raise CryptoError(msg)
        dek = self.keys.get(record.kek_id).unwrap(
            record.wrapped, dek_aad(record.key_id, record.category, record.object_id)
        )
        try:
            return AESGCM(dek).decrypt(parsed.nonce, parsed.body, parsed.aad(category, object_id))
        except InvalidTag:
            msg = f"sealed object {category}/{object_id} failed authentication: it was altered or truncated"
            raise CryptoError(msg) from None

    def _opens_bucket(self, record: WrappedKey, category: str, v2: bool) -> bool:
        """Whether ``record`` is a bucket key that may open a v2 object of ``category``."""
        return (
            v2
            and record.category == category
            and category in self.bucketed
            and is_bucket(record.object_id)
            and record.key_id == bucket_key_id(category, record.object_id)
        )

    def _pending_key(self, key_id: str) -> WrappedKey | None:
        for record in self._pending.get() or ():
            if record.key_id == key_id:
                return record
        return None

    def shred(self, *, object_id: str, category: str) -> int:
        """Delete the object's data keys: every copy of its ciphertext becomes undecryptable."""
        return self.store.delete_object(category, object_id)

    def __repr__(self) -> str:
        return f"Envelope(keys={self.keys!r}, store={self.store!r}, bucketed={sorted(self.bucketed)})"
