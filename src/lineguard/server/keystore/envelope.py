"""The server's envelope encryption, assembled from its settings."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import ServerConfig
from lineguard.crypto.envelope import Envelope
from lineguard.crypto.kdf import KdfParams
from lineguard.crypto.kek import KekProvider
from lineguard.crypto.keyring import Keyring
from lineguard.crypto.pkcs11 import Pkcs11Keyring
from lineguard.crypto.provider import open_keyring as _open_keyring
from lineguard.server.keystore.buckets import BUCKETED_CATEGORIES
from lineguard.server.keystore.store import SqlDataKeyStore

__all__ = ["open_envelope", "open_keyring", "signer_key_store_path"]


def signer_key_store_path(directory: Path) -> Path:
    """Where the audit signing key's wrapped data key is kept (``directory`` = ``data_dir/audit``).

    Defined here, where every data-key store is listed for rotation; the audit domain
    imports it (the other way round made an import cycle through the audit domain).
    """
    return directory / "signing-key.keys.db"


def open_keyring(
    settings: ServerConfig, *, create: bool = False, kdf: KdfParams | None = None
) -> Keyring | Pkcs11Keyring:
    """The server's KEK provider (file keyring under ``data_dir/keys`` or the PKCS#11 token)."""
    return _open_keyring(settings.keyring, settings.data_dir, create=create, kdf=kdf)


def open_envelope(
    settings: ServerConfig, sessions: sessionmaker[Session], *, keys: KekProvider | None = None
) -> Envelope:
    """Envelope encryption whose data keys live in the server database (``data_keys``).

    Use ``envelope.batch()`` around an ingest batch: its keys are then stored with one
    statement instead of one per sealed field. Inspection events' part ids share one
    key per line and hour (``seal_in_buckets``, :data:`BUCKETED_CATEGORIES`).
    """
    return Envelope(
        keys if keys is not None else open_keyring(settings, create=True),
        SqlDataKeyStore(sessions),
        bucketed=BUCKETED_CATEGORIES,
    )
