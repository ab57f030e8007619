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

__all__ = ["NoEncryption", "default_audit", "default_sealer"]


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


def default_audit(settings: ServerConfig) -> AuditHook:
    """The audit domain's recorder: hash-chained entries in the caller's transaction."""
    from lineguard.server.audit import AuditRecorder

    return AuditRecorder()
