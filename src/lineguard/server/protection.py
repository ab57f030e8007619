"""Default encryption-at-rest and audit for the server, built from its settings.

The crypto and audit domains own the primitives (``lineguard.crypto`` envelope
encryption over the keyring; ``lineguard.server.audit``'s one ``record`` choke point);
this module only wires them to ``create_app`` so the server runs with both switched on
unless a caller (a test, a benchmark baseline) passes its own.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, NoReturn

from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import ServerConfig
from lineguard.contracts.errors import CryptoError
from lineguard.crypto.datakeys import WrappedKey
from lineguard.server.context import AuditHook, Sealer

if TYPE_CHECKING:
    from lineguard.server.storage import TableRows

__all__ = [
    "NoEncryption",
    "StagedKeyRows",
    "default_audit",
    "default_sealer",
    "ensure_keyring",
    "staged_sealer",
]


class NoEncryption:
    """Stores fields as plaintext. Only for benchmark baselines and tests that say so."""

    def batch(self) -> AbstractContextManager[None]:
        return nullcontext()

    def seal(self, plaintext: bytes, *, object_id: str, category: str) -> bytes:
        return plaintext

    def seal_many(self, items: Sequence[tuple[str, bytes]], *, category: str) -> list[bytes]:
        return [plaintext for _, plaintext in items]

    def open(self, sealed: bytes, *, object_id: str, category: str) -> bytes:
        return sealed


def default_sealer(settings: ServerConfig, sessions: sessionmaker[Session]) -> Sealer:
    """Envelope encryption under the server keyring; data keys in the server database."""
    from lineguard.server.keystore.envelope import open_envelope

    return open_envelope(settings, sessions)


def ensure_keyring(settings: ServerConfig) -> None:
    """Create the server keyring if it is missing (once, before worker processes start)."""
    from lineguard.server.keystore.envelope import open_keyring

    open_keyring(settings, create=True)


class _StagedKeys:
    """A data-key store that only collects: keys are written later, in a transaction.

    Ingest seals a batch before its write transaction starts (sealing is CPU work that
    should not hold SQLite's single write lock), then writes the staged keys together
    with the rows. Reading or shredding through it is a programming error.
    """

    def __init__(self) -> None:
        self.keys: list[WrappedKey] = []

    def put(self, key: WrappedKey) -> None:
        self.keys.append(key)

    def put_many(self, keys: Sequence[WrappedKey]) -> None:
        self.keys.extend(keys)

    def _not_here(self) -> NoReturn:
        msg = "staged data keys can only be written, not read or shredded"
        raise CryptoError(msg)

    def get(self, key_id: str) -> WrappedKey:
        self._not_here()

    def delete_object(self, category: str, object_id: str) -> int:
        self._not_here()

    def wrapped_under(self, kek_ids: Iterable[str], limit: int) -> list[WrappedKey]:
        self._not_here()

    def rewrap(self, key_id: str, *, old_kek_id: str, new_kek_id: str, wrapped: bytes) -> bool:
        self._not_here()

    def count_by_kek(self) -> dict[str, int]:
        self._not_here()


#: ``key_rows(keep)``: the staged data keys whose ``(category, object_id)`` is in
#: ``keep``, as rows of the ``data_keys`` table (None when there are none).
StagedKeyRows = Callable[[Collection[tuple[str, str]]], "TableRows | None"]


def staged_sealer(sealer: Sealer) -> tuple[Sealer, StagedKeyRows]:
    """A sealer whose data keys are held back, and ``key_rows(keep)`` to write them.

    The caller writes the key rows in the transaction that stores the sealed rows
    (:func:`~lineguard.server.storage.insert_many`): rows and the keys that open them
    commit together, or neither does. ``keep`` names the objects whose rows were
    actually written (ingest seals before it knows which items are duplicates; the keys
    of skipped duplicates are dropped, never stored). Sealers without a database key
    store (no encryption) have no key rows.
    """
    from lineguard.crypto.envelope import Envelope
    from lineguard.server.keystore.store import SqlDataKeyStore

    if not (isinstance(sealer, Envelope) and isinstance(sealer.store, SqlDataKeyStore)):
        return sealer, lambda _keep: None
    staged = _StagedKeys()

    def key_rows(keep: Collection[tuple[str, str]]) -> TableRows | None:
        keys = [k for k in staged.keys if (k.category, k.object_id) in keep]
        staged.keys.clear()
        return SqlDataKeyStore.table_rows(keys) if keys else None

    return Envelope(sealer.keys, staged), key_rows


def default_audit(settings: ServerConfig) -> AuditHook:
    """The audit domain's recorder: hash-chained entries in the caller's transaction."""
    from lineguard.server.audit import AuditRecorder

    return AuditRecorder()
