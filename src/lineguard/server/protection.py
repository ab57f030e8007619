"""Default encryption-at-rest and audit for the server, built from its settings.

The crypto and audit domains own the primitives (``lineguard.crypto`` envelope
encryption over the keyring; ``lineguard.server.audit``'s one ``record`` choke point);
this module only wires them to ``create_app`` so the server runs with both switched on
unless a caller (a test, a benchmark baseline) passes its own.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import ServerConfig
from lineguard.server.context import AuditHook, Sealer

__all__ = ["NoEncryption", "default_audit", "default_sealer", "ensure_keyring", "sealer_in"]


class NoEncryption:
    """Stores fields as plaintext. Only for benchmark baselines and tests that say so."""

    def batch(self) -> AbstractContextManager[None]:
        return nullcontext()

    def seal(self, plaintext: bytes, *, object_id: str, category: str) -> bytes:
        return plaintext

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


def sealer_in(sealer: Sealer, session: Session) -> Sealer:
    """``sealer`` with its data keys written in ``session``'s transaction.

    Ingest seals a batch and stores its rows and their data keys in one commit: both
    or neither, and one write transaction instead of two.
    """
    from lineguard.crypto.envelope import Envelope
    from lineguard.server.keystore.store import SqlDataKeyStore

    if isinstance(sealer, Envelope) and isinstance(sealer.store, SqlDataKeyStore):
        return Envelope(sealer.keys, SqlDataKeyStore.bound(session))
    return sealer


def default_audit(settings: ServerConfig) -> AuditHook:
    """The audit domain's recorder: hash-chained entries in the caller's transaction."""
    from lineguard.server.audit import AuditRecorder

    return AuditRecorder()
