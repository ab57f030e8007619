"""What the ``lineguard server`` / ``ca`` / ``node`` commands do, as plain functions.

The CLI stays a thin shell over these: open the database the server uses (migrated to
head) with the server's audit recorder, create or load the plant CA, keep the server's
TLS certificate current, and run the HTTPS server.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import ServerConfig
from lineguard.crypto.datakeys import DataKeyStore, SqliteDataKeyStore
from lineguard.server.app import create_app
from lineguard.server.context import AuditHook
from lineguard.server.keystore import SqlDataKeyStore, signer_key_store_path
from lineguard.server.pki import CaPaths, IssuedCertificate, PlantCa, ca_paths
from lineguard.server.protection import default_audit, ensure_keyring
from lineguard.server.storage import open_storage, opened_storage

__all__ = [
    "AdminSession",
    "admin_session",
    "all_data_key_stores",
    "ensure_server_certificate",
    "init_ca",
    "load_ca",
    "run_server",
]

log = logging.getLogger(__name__)

#: Reissue the server certificate when less than this is left.
SERVER_CERT_RENEW_BEFORE = timedelta(days=30)


@dataclass
class AdminSession:
    session: Session
    audit: AuditHook
    actor: str


@contextmanager
def admin_session(settings: ServerConfig, *, actor: str) -> Iterator[AdminSession]:
    """A session on the server database (migrated to head), its audit recorder, and who acts.

    ``actor`` is the command's audit actor (``lineguard.cli.options.cli_actor``).
    """
    with opened_storage(settings) as sessions, sessions() as session:
        yield AdminSession(session, default_audit(settings), actor)


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


def load_ca(settings: ServerConfig) -> PlantCa:
    return PlantCa.load(settings.data_dir, settings.pki.ca_passphrase.resolve())


def init_ca(settings: ServerConfig) -> tuple[PlantCa, IssuedCertificate]:
    """Create the plant CA and the server's first TLS certificate."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ca = PlantCa.create(settings.data_dir, settings.pki.ca_passphrase.resolve(), site_id=settings.site_id)
    return ca, ca.issue_server_certificate(settings.data_dir, names=list(settings.pki.server_names))


def ensure_server_certificate(settings: ServerConfig, ca: PlantCa, *, now: datetime | None = None) -> CaPaths:
    """Issue a new server certificate if it is missing, expiring, or for other names."""
    from cryptography import x509

    now = now or datetime.now(UTC)
    paths = ca_paths(settings.data_dir)
    current = None
    if paths.server_cert.exists() and paths.server_key.exists():
        current = x509.load_pem_x509_certificate(paths.server_cert.read_bytes())
    reissue = current is None
    if current is not None:
        try:
            san = current.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            names = {str(n.value) for n in san}
        except x509.ExtensionNotFound:
            names = set()
        expiring = current.not_valid_after_utc - now < SERVER_CERT_RENEW_BEFORE
        reissue = (
            expiring or names != set(settings.pki.server_names) or current.issuer != ca.certificate.subject
        )
    if reissue:
        ca.issue_server_certificate(settings.data_dir, names=list(settings.pki.server_names))
    return paths


def run_server(settings: ServerConfig, *, fix_permissions: bool = False) -> None:
    """Serve the plant server over HTTPS until interrupted.

    First, before anything is opened: new files are private (umask 077), and the data
    directory is checked (``file_modes``): anything readable by other users refuses the
    start, or is narrowed with ``fix_permissions``.
    """
    from lineguard.server.file_modes import check_private_tree
    from lineguard.server.tls import serve_workers

    os.umask(0o077)
    fixed = check_private_tree(settings.data_dir, fix=fix_permissions)
    if fixed:
        log.warning("narrowed the modes of %d path(s) under %s to private", fixed, settings.data_dir)
    ca = load_ca(settings)
    paths = ensure_server_certificate(settings, ca)
    # Migrate once here, so workers starting together find the schema at head.
    engine, _ = open_storage(settings)
    engine.dispose()
    ensure_keyring(settings)
    serve_workers(
        lambda: create_app(settings, ca=ca),
        workers=settings.http.workers,
        host=settings.http.host,
        port=settings.http.port,
        cert_file=paths.server_cert,
        key_file=paths.server_key,
        ca_file=paths.cert,
        min_tls_version=settings.http.min_tls_version,
    )
