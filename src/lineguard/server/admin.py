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
from lineguard.contracts.audit import CaRetired, ServerCertificateRenewed
from lineguard.contracts.errors import ConflictError, NotFoundError
from lineguard.crypto.datakeys import DataKeyStore, SqliteDataKeyStore
from lineguard.server.app import create_app
from lineguard.server.context import AuditHook
from lineguard.server.keystore import SqlDataKeyStore, signer_key_store_path
from lineguard.server.nodes import (
    nodes_on_other_ca,
    pending_enrollment_tokens,
    revoke_certificates_of_other_ca,
)
from lineguard.server.pki import (
    ISSUE_LOCK,
    CaPaths,
    CaRotation,
    DatabaseLock,
    IssuedCertificate,
    PlantCa,
    ca_paths,
    check_passphrase_absent,
    database_issue_lock,
    is_issuer,
    renew_server_certificate,
    retire_previous_ca,
    rotation_started_at,
    start_ca_rotation,
    write_trust_bundle,
)
from lineguard.server.protection import default_audit, ensure_keyring
from lineguard.server.storage import open_storage, opened_storage, transaction_lock

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

#: ``lineguard ca retire`` is refused (without --force) this soon after ``ca rotate``: each
#: process sees a rotation within 2 s (``server/pki/live.py``), moves its relay certificate to
#: the new CA 10 s later (``evidence_views.RELAY_SWITCH_AFTER_S``) and beats every 3 s; a
#: retirement before that refuses relay hand-offs to the replicas still on the old CA.
MIN_OVERLAP = timedelta(seconds=30)

#: Who the audit log names for a server certificate issued as the server starts.
SERVER_START_ACTOR = "system:server-start"


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
    """Start a CA rotation (server/pki/rotation.py); running processes follow it within seconds."""
    return start_ca_rotation(
        settings.data_dir, settings.pki.ca_passphrase.resolve(), site_id=settings.site_id
    )


def _shown(names: list[str]) -> str:
    return ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")


def retire_ca(
    settings: ServerConfig, session: Session, *, force: bool = False, now: datetime | None = None
) -> CaRetired:
    """End the CA rotation, unless that would leave something that cannot follow.

    Refused (:class:`ConflictError` naming each reason, nothing changed) while an active
    node still holds only the previous CA's certificate (it could not connect any more),
    while an unused enrollment token pins the previous CA (it is the one serving during
    the overlap: its node could not enroll), and during the first :data:`MIN_OVERLAP`
    after the rotation (replicas are still moving their relay certificates to the new
    CA). With ``force`` those nodes' certificates are marked revoked (they must enroll
    again); the returned event (not yet audited) names the nodes and tokens left behind.
    The caller audits and commits.
    """
    ca = load_ca(settings)
    if ca.previous is None:
        msg = (
            "no CA rotation is overlapping: there is no previous CA to retire "
            "(`lineguard ca rotate` starts one)"
        )
        raise NotFoundError(msg)
    now = now or datetime.now(UTC)
    stranded = nodes_on_other_ca(session, ca_fingerprint=ca.fingerprint_sha256, now=now)
    tokens = pending_enrollment_tokens(session, now=now)
    overlap = now - rotation_started_at(ca)
    reasons: list[str] = []
    if stranded:
        reasons.append(
            f"{len(stranded)} active node(s) still hold a certificate of the previous CA and could not "
            f"connect once it is retired: {_shown(stranded)}. Let them renew (automatic: at once when they "
            "next connect during the overlap, or `lineguard edge renew` on the node)"
        )
    if tokens:
        reasons.append(
            f"{len(tokens)} unused enrollment token(s) pin the previous CA, which serves until it is "
            f"retired, so their nodes could not enroll after: {_shown(tokens)}. Enroll them first, "
            "or retire and make new tokens (`lineguard node token`)"
        )
    if overlap < MIN_OVERLAP:
        reasons.append(
            f"the rotation is {max(overlap.total_seconds(), 0):.0f} s old: each replica moves its relay "
            f"certificate to the new CA ~15 s after it sees a rotation; wait until it is "
            f"{MIN_OVERLAP.total_seconds():.0f} s old"
        )
    if reasons and not force:
        msg = (
            "refusing to retire the previous CA: "
            + "; ".join(reasons)
            + (". Or pass --force: the nodes named must enroll again")
        )
        raise ConflictError(msg)
    revoked = revoke_certificates_of_other_ca(session, ca_fingerprint=ca.fingerprint_sha256) if force else 0
    session.flush()
    # Held until the caller commits: no running replica re-issues the server certificate
    # while this one writes it (the same order as server/pki/server_cert.py: this, then the file's lock).
    transaction_lock(session, ISSUE_LOCK)
    done = retire_previous_ca(
        settings.data_dir, settings.pki.ca_passphrase.resolve(), server_names=list(settings.pki.server_names)
    )
    return CaRetired(
        fingerprint_sha256=done.previous_fingerprint,
        current_fingerprint_sha256=done.current_fingerprint,
        stranded_nodes=stranded[:200],
        certificates_revoked=revoked,
        stranded_tokens=tokens[:200],
        overlap_s=max(int(overlap.total_seconds()), 0),
    )


def ensure_server_certificate(
    settings: ServerConfig,
    ca: PlantCa,
    *,
    now: datetime | None = None,
    database_lock: DatabaseLock | None = None,
) -> tuple[CaPaths, ServerCertificateRenewed | None]:
    """Re-issue the server certificate if it is due (missing, expiring, other names, an
    untrusted issuer: ``server/pki/server_cert.py``); write ``trust.pem`` if it is missing
    or stale. The paths, and the event to audit when a certificate was issued."""
    paths = ca_paths(settings.data_dir)
    event = renew_server_certificate(
        settings.data_dir,
        settings.pki.ca_passphrase.resolve(),
        lambda: ca,
        names=list(settings.pki.server_names),
        now=now,
        database_lock=database_lock,
    )
    # The listener verifies against trust.pem, the file a rotation rewrites (a CA made
    # before ``ca init`` wrote it has none yet): so a running listener follows rotations.
    trust = ca.trust_pem.encode("ascii")
    if not paths.trust_bundle.exists() or paths.trust_bundle.read_bytes() != trust:
        write_trust_bundle(settings.data_dir, ca)
    return paths, event


def run_server(settings: ServerConfig, *, fix_permissions: bool = False) -> None:
    """Serve the plant server over HTTPS until interrupted.

    First, before anything is opened: new files are private (umask 077), and the data
    directory is checked (``file_modes``): anything readable by other users refuses the
    start, or is narrowed with ``fix_permissions``. A host that is not a CA issuer
    (``LINEGUARD_PKI_ISSUER=false``, ``server/pki/role.py``) refuses to start if it holds
    the CA passphrase, reads only the CA certificates, and leaves the server certificate
    to the issuers.
    """
    from lineguard.server.file_modes import check_private_tree
    from lineguard.server.tls import serve_workers

    issuer = is_issuer()
    if not issuer:  # before anything is touched: a non-issuer host must not hold the passphrase
        check_passphrase_absent(settings.pki.ca_passphrase)
    os.umask(0o077)
    fixed = check_private_tree(settings.data_dir, fix=fix_permissions)
    if fixed:
        log.warning("narrowed the modes of %d path(s) under %s to private", fixed, settings.data_dir)
    ca = load_ca(settings) if issuer else PlantCa.load_public(settings.data_dir)
    # Migrate once here, so workers starting together find the schema at head.
    engine, sessions = open_storage(settings)
    try:
        if issuer:
            # Under the issuing locks: replicas starting together re-issue an expiring
            # certificate once, and never interleave key and certificate of two pairs.
            paths, issued = ensure_server_certificate(settings, ca, database_lock=database_issue_lock(engine))
        else:  # an issuer keeps the shared pair current; this host serves what it finds
            paths, issued = ca_paths(settings.data_dir), None
            if not paths.server_cert.exists() or not paths.server_key.exists():
                msg = (
                    f"no server TLS certificate in {paths.directory} yet, and this host is not a CA "
                    "issuer (LINEGUARD_PKI_ISSUER=false): start an issuer replica on the shared data_dir "
                    "first (or `lineguard ca init` on an issuer host)"
                )
                raise NotFoundError(msg)
        ensure_keyring(settings)
        if issued is not None:
            with sessions() as session:
                default_audit(settings)(session, issued, actor=SERVER_START_ACTOR)
                session.commit()
    finally:
        engine.dispose()
    serve_workers(
        lambda: create_app(settings, ca=ca, pki_issuer=issuer),
        workers=settings.http.workers,
        host=settings.http.host,
        port=settings.http.port,
        cert_file=paths.server_cert,
        key_file=paths.server_key,
        ca_file=paths.trust,  # both CAs while a CA rotation overlaps
        min_tls_version=settings.http.min_tls_version,
    )
