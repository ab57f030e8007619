"""Default encryption-at-rest and audit for the server, built from its settings.

The crypto and audit domains own the primitives (``lineguard.crypto`` envelope
encryption over the keyring; ``lineguard.server.audit``'s one ``record`` choke point);
this module only wires them to ``create_app`` so the server runs with both switched on
unless a caller (a test, a benchmark baseline) passes its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext

from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import ServerConfig
from lineguard.server.audit import AuditRecorder
from lineguard.server.context import AuditHook, Sealer
from lineguard.server.keystore import open_envelope, open_keyring

__all__ = ["NoEncryption", "default_audit", "default_sealer", "ensure_keyring"]


class NoEncryption:
    """Stores fields as plaintext. Only for benchmark baselines and tests that say so."""

    def batch(self) -> AbstractContextManager[None]:
        return nullcontext()

    def seal(self, plaintext: bytes, *, object_id: str, category: str) -> bytes:
        return plaintext

    def seal_many(self, items: Sequence[tuple[str, bytes]], *, category: str) -> list[bytes]:
        return [plaintext for _, plaintext in items]

    def seal_in_buckets(self, items: Sequence[tuple[str, str, bytes]], *, category: str) -> list[bytes]:
        return [plaintext for _, _, plaintext in items]

    def open(self, sealed: bytes, *, object_id: str, category: str) -> bytes:
        return sealed


def default_sealer(settings: ServerConfig, sessions: sessionmaker[Session]) -> Sealer:
    """Envelope encryption under the server keyring; data keys in the server database."""
    return open_envelope(settings, sessions)


def ensure_keyring(settings: ServerConfig) -> None:
    """Create the server keyring if it is missing (once, before worker processes start)."""
    open_keyring(settings, create=True)


def default_audit(settings: ServerConfig) -> AuditHook:
    """The audit domain's recorder: hash-chained entries in the caller's transaction."""
    return AuditRecorder()
