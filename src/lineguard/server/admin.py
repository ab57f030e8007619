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
from lineguard.contracts.audit import CaRetired
from lineguard.contracts.errors import ConflictError, NotFoundError
from lineguard.crypto.datakeys import DataKeyStore, SqliteDataKeyStore
from lineguard.server.app import create_app
from lineguard.server.context import AuditHook
from lineguard.server.keystore import SqlDataKeyStore, signer_key_store_path
from lineguard.server.nodes import nodes_on_other_ca, revoke_certificates_of_other_ca
from lineguard.server.pki import (
    CaPaths,
    CaRotation,
    IssuedCertificate,
    PlantCa,
    ca_paths,
    retire_previous_ca,
    start_ca_rotation,
)
from lineguard.server.protection import default_audit, ensure_keyring
from lineguard.server.storage import open_storage, opened_storage

__all__ = [
    "AdminSession",
    "admin_session",
    "all_data_key_stores",
    "ensure_server_certificate",
    "init_ca",
    "load_ca",
    "retire_ca",
    "rotate_ca",
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


def rotate_ca(settings: ServerConfig) -> CaRotation:
    """Start a CA rotation (server/pki/rotation.py); every process must be restarted to read it."""
    return start_ca_rotation(
        settings.data_dir, settings.pki.ca_passphrase.resolve(), site_id=settings.site_id
    )


def retire_ca(settings: ServerConfig, session: Session, *, force: bool = False) -> CaRetired:
    """End the CA rotation: refused while an active node still holds only the previous CA's certificate.

    With ``force`` those nodes' certificates are marked revoked (they must enroll again);
    the returned event (not yet audited) names them. The caller audits and commits.
    """
    ca = load_ca(settings)
    if ca.previous is None:
        msg = (
            "no CA rotation is overlapping: there is no previous CA to retire "
            "(`lineguard ca rotate` starts one)"
        )
        raise NotFoundError(msg)
    stranded = nodes_on_other_ca(session, ca_fingerprint=ca.fingerprint_sha256)
    if stranded and not force:
        shown = ", ".join(stranded[:20]) + (f" and {len(stranded) - 20} more" if len(stranded) > 20 else "")
        msg = (
            f"{len(stranded)} active node(s) still hold a certificate of the previous CA and could not "
            f"connect once it is retired: {shown}. Let them renew (automatic at 2/3 of a certificate's "
            "life, or `lineguard edge renew` on the node), or pass --force and enroll them again"
        )
        raise ConflictError(msg)
    revoked = revoke_certificates_of_other_ca(session, ca_fingerprint=ca.fingerprint_sha256) if force else 0
    session.flush()
    done = retire_previous_ca(
        settings.data_dir, settings.pki.ca_passphrase.resolve(), server_names=list(settings.pki.server_names)
    )
    return CaRetired(
        fingerprint_sha256=done.previous_fingerprint,
        current_fingerprint_sha256=done.current_fingerprint,
        stranded_nodes=stranded[:200],
        certificates_revoked=revoked,
    )


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
        # During a CA rotation the previous CA's server certificate is kept: nodes that have
        # not renewed yet trust only the previous CA (server/pki/rotation.py).
        reissue = (
            expiring
            or names != set(settings.pki.server_names)
            or current.issuer not in {c.subject for c in ca.trusted}
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
        ca_file=paths.trust,  # both CAs while a CA rotation overlaps
        min_tls_version=settings.http.min_tls_version,
    )
