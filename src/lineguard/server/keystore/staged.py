"""Staged data keys: seal a batch before its write transaction, store the keys with the rows.

Ingest seals a batch before its write transaction starts (sealing is CPU work that
should not hold SQLite's single write lock), then writes the staged keys together with
the rows, so rows and the keys that open them commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Sequence
from typing import NoReturn

from lineguard.contracts.errors import CryptoError
from lineguard.crypto.datakeys import WrappedKey
from lineguard.crypto.envelope import Envelope
from lineguard.server.context import Sealer
from lineguard.server.keystore.store import SqlDataKeyStore
from lineguard.server.storage import TableRows

__all__ = ["StagedKeyRows", "staged_sealer"]


class _StagedKeys:
    """A data-key store that only collects: keys are written later, in a transaction.

    Ingest seals a batch before its write transaction starts (sealing is CPU work that
    should not hold SQLite's single write lock), then writes the staged keys together
    with the rows. Bucket keys are the exception: they go straight to ``durable``
    (created and committed before anything is sealed under them, shared by every batch
    of their bucket). Reading or shredding through it is a programming error.
    """

    def __init__(self, durable: SqlDataKeyStore) -> None:
        self.keys: list[WrappedKey] = []
        self._durable = durable

    def put(self, key: WrappedKey) -> None:
        self.keys.append(key)

    def put_many(self, keys: Sequence[WrappedKey]) -> None:
        self.keys.extend(keys)

    def put_if_absent(self, key: WrappedKey) -> WrappedKey:
        return self._durable.put_if_absent(key)

    def _not_here(self) -> NoReturn:
        msg = "staged data keys can only be written, not read or shredded"
        raise CryptoError(msg)

    def get(self, key_id: str) -> WrappedKey:
        self._not_here()

    def delete_object(self, category: str, object_id: str) -> int:
        self._not_here()

    def wrapped_under(self, kek_ids: Iterable[str], limit: int, *, after: str = "") -> list[WrappedKey]:
        self._not_here()

    def rewrap(self, key_id: str, *, old_kek_id: str, new_kek_id: str, wrapped: bytes) -> bool:
        self._not_here()

    def count_by_kek(self) -> dict[str, int]:
        self._not_here()


#: ``key_rows(keep)``: the staged data keys whose ``(category, object_id)`` is in
#: ``keep``, as rows of the ``data_keys`` table (None when there are none).
StagedKeyRows = Callable[[Container[tuple[str, str]]], TableRows | None]


def staged_sealer(sealer: Sealer) -> tuple[Sealer, StagedKeyRows]:
    """A sealer whose data keys are held back, and ``key_rows(keep)`` to write them.

    The caller writes the key rows in the transaction that stores the sealed rows
    (:func:`~lineguard.server.storage.insert_many`): rows and the keys that open them
    commit together, or neither does. ``keep`` names the objects whose rows were
    actually written (ingest seals before it knows which items are duplicates; the keys
    of skipped duplicates are dropped, never stored). Sealers without a database key
    store (no encryption) have no key rows.
    """
    if not (isinstance(sealer, Envelope) and isinstance(sealer.store, SqlDataKeyStore)):
        return sealer, lambda _keep: None
    staged = _StagedKeys(sealer.store)

    def key_rows(keep: Container[tuple[str, str]]) -> TableRows | None:
        keys = [k for k in staged.keys if (k.category, k.object_id) in keep]
        staged.keys.clear()
        return SqlDataKeyStore.table_rows(keys) if keys else None

    return Envelope(sealer.keys, staged, bucketed=sealer.bucketed, buckets=sealer.buckets), key_rows
