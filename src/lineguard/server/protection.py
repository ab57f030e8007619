"""Default encryption-at-rest and audit for the server, built from its settings.

The crypto and audit domains own the primitives (``lineguard.crypto`` envelope
encryption over the keyring; ``lineguard.server.audit``'s one ``record`` choke point);
this module only wires them to ``create_app`` so the server runs with both switched on
unless a caller (a test, a benchmark baseline) passes its own.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import NoReturn

from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import ServerConfig
from lineguard.contracts.errors import CryptoError
from lineguard.crypto.datakeys import WrappedKey
from lineguard.server.context import AuditHook, Sealer

__all__ = ["FlushKeys", "NoEncryption", "default_audit", "default_sealer", "ensure_keyring", "staged_sealer"]


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


#: ``flush(session, keep)``: write the staged data keys (only those whose
#: ``(category, object_id)`` is in ``keep``, when given) in the caller's transaction.
FlushKeys = Callable[[Session, Collection[tuple[str, str]] | None], None]


def staged_sealer(sealer: Sealer) -> tuple[Sealer, FlushKeys]:
    """A sealer whose data keys are held back, and ``flush(session, keep)`` to write them.

    Call ``flush`` inside the transaction that stores the sealed rows: rows and the keys
    that open them commit together, or neither does. ``keep`` names the objects whose
    rows were actually written (ingest seals before it knows which items are
    duplicates; the keys of skipped duplicates are dropped, never stored). Sealers
    without a database key store (no encryption) flush nothing.
    """
    from lineguard.crypto.envelope import Envelope
    from lineguard.server.keystore.store import SqlDataKeyStore

    if not (isinstance(sealer, Envelope) and isinstance(sealer.store, SqlDataKeyStore)):
        return sealer, lambda _session, _keep: None
    staged = _StagedKeys()

    def flush(session: Session, keep: Collection[tuple[str, str]] | None) -> None:
        keys = staged.keys if keep is None else [k for k in staged.keys if (k.category, k.object_id) in keep]
        if keys:
            SqlDataKeyStore.bound(session).put_many(keys)
        staged.keys.clear()

    return Envelope(sealer.keys, staged), flush


def default_audit(settings: ServerConfig) -> AuditHook:
    """The audit domain's recorder: hash-chained entries in the caller's transaction."""
    from lineguard.server.audit import AuditRecorder

    return AuditRecorder()
