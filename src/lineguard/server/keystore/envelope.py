"""The server's envelope encryption, assembled from its settings."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import ServerConfig
from lineguard.crypto.datakeys import DataKeyStore, SqliteDataKeyStore
from lineguard.crypto.envelope import Envelope
from lineguard.crypto.kdf import KdfParams
from lineguard.crypto.kek import KekProvider
from lineguard.crypto.keyring import Keyring
from lineguard.crypto.pkcs11 import Pkcs11Keyring
from lineguard.crypto.provider import open_keyring as _open_keyring
from lineguard.server.keystore.store import SqlDataKeyStore

__all__ = ["all_data_key_stores", "open_envelope", "open_keyring", "open_storage", "signer_key_store_path"]


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
    statement instead of one per sealed field.
    """
    return Envelope(
        keys if keys is not None else open_keyring(settings, create=True), SqlDataKeyStore(sessions)
    )


def open_storage(settings: ServerConfig, *, migrate: bool = True) -> tuple[Engine, sessionmaker[Session]]:
    """The server database for a command-line tool, migrated to head like the server does."""
    from lineguard.server.app import database_url
    from lineguard.server.storage import create_engine_for, session_factory, upgrade_to_head

    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    password = settings.database.password.resolve().get_secret_value() if settings.database.password else None
    engine = create_engine_for(
        database_url(settings), password=password, pool_size=settings.database.pool_size
    )
    if migrate:
        upgrade_to_head(engine)
    return engine, session_factory(engine)


def all_data_key_stores(settings: ServerConfig, sessions: sessionmaker[Session]) -> dict[str, DataKeyStore]:
    """Every place the server keeps wrapped data keys, by name: rotation must cover them all.

    The ``data_keys`` table; the audit key's own store; and the SQLite sidecar store
    under ``data_dir/keys`` when an older or alternative setup uses one.
    """
    stores: dict[str, DataKeyStore] = {"database": SqlDataKeyStore(sessions)}
    for name, path in (
        ("audit-key", signer_key_store_path(settings.data_dir / "audit")),
        ("sidecar", settings.data_dir / "keys" / "datakeys.db"),
    ):
        if path.exists():
            stores[name] = SqliteDataKeyStore(path)
    return stores
