"""The live state the doctor and the documents read: gathered once, from the database and files.

:func:`gather` reads everything a check or a document needs — accounts and their grants,
nodes and their cameras, registered models, the last document build, notice
publication and access review, certificates, keys — into one frozen
:class:`PlantState`. Checks and renderers are then pure functions of it, which is what
makes both testable without a running server and the documents deterministic.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from lineguard.config import load_edge_config
from lineguard.config.edge import EdgeConfig
from lineguard.config.server import RetentionConfig, ServerConfig
from lineguard.contracts.errors import LineGuardError
from lineguard.crypto.keyring import keyring_path
from lineguard.server.audit import DatabaseLog, Ed25519Verifier, load_public_key
from lineguard.server.auth import ROLES, Role, RoleGrant, User
from lineguard.server.evidence_views import list_replicas
from lineguard.server.governance.models import (
    AccessReviewRow,
    ConfigSnapshotRow,
    DocumentBuildRow,
    NoticePublicationRow,
)
from lineguard.server.ingest import NodeHealthRow
from lineguard.server.nodes import Node, NodeCertificate, NodeStatus, nodes_on_other_ca
from lineguard.server.pki import ca_paths, certificate_fingerprint
from lineguard.server.registry import ModelVersion, Registry, ReleaseRow
from lineguard.server.retention import effective_policy
from lineguard.signing.keystore import SigningKeyStore
from lineguard.vision.package import METADATA_FILE, ModelMetadata

__all__ = [
    "AccountState",
    "AuditState",
    "CertificateState",
    "EdgeConfigState",
    "GrantState",
    "KeyState",
    "ModelState",
    "NodeState",
    "PlantState",
    "ReplicaState",
    "edge_config_paths",
    "gather",
    "latest_review",
    "load_edge_configs",
]

_R = TypeVar("_R")


@dataclass(frozen=True, slots=True)
class GrantState:
    grant_id: str
    role: Role
    site: str
    lines: tuple[str, ...] | None
    valid_until: datetime | None


@dataclass(frozen=True, slots=True)
class AccountState:
    username: str
    display_name: str
    disabled: bool
    mfa: bool
    created_at: datetime
    last_login_at: datetime | None
    grants: tuple[GrantState, ...]

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(g.role for g in self.grants)

    @property
    def needs_mfa(self) -> bool:
        return any(ROLES[r].mfa_required for r in self.roles)


@dataclass(frozen=True, slots=True)
class NodeState:
    node_id: str
    site_id: str
    line_id: str
    camera_ids: tuple[str, ...]
    certificate_not_after: datetime | None


@dataclass(frozen=True, slots=True)
class ReplicaState:
    """A server process registered for the internal evidence-view relay, and whether it answered."""

    replica_id: str
    address: str
    heartbeat_age_s: float
    clock_skew_s: float
    revoked: bool
    refused_connections: int
    #: None: a TCP connection to its advertised relay address opened; else why not.
    unreachable: str | None
    #: Its plant CA role: ``leader``, ``issuer`` or ``none`` (``server/pki/role.py``).
    ca_role: str = "issuer"


def _replicas(session: Session, *, timeout_s: float = 2.0) -> tuple[ReplicaState, ...]:
    """Registered replicas; each one's advertised relay address dialled (TCP only, no TLS, so the
    probe is neither a hand-off nor a refused handshake)."""
    found = []
    for replica in list_replicas(session):
        unreachable = None
        try:
            socket.create_connection((replica.host, replica.port), timeout=timeout_s).close()
        except OSError as exc:
            unreachable = (exc.strerror or type(exc).__name__)[:200]
        found.append(
            ReplicaState(
                replica.replica_id,
                f"{replica.host}:{replica.port}",
                replica.heartbeat_age_s,
                replica.clock_skew_s,
                replica.revoked,
                replica.refused_connections,
                unreachable,
                replica.ca_role,
            )
        )
    return tuple(found)


@dataclass(frozen=True, slots=True)
class CertificateState:
    path: Path
    not_before: datetime
    not_after: datetime
    subject: str


@dataclass(frozen=True, slots=True)
class EdgeConfigState:
    path: Path
    config: EdgeConfig | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class KeyState:
    """Ages of the keys the doctor watches (never key material)."""

    #: The keyring's active KEK: (id, created); None when there is no readable keyring.
    active_kek: tuple[str, datetime] | None
    #: Active model-signing keys: (key id, label, created).
    signing_keys: tuple[tuple[str, str, datetime], ...]


@dataclass(frozen=True, slots=True)
class AuditState:
    """The live audit log, verified end to end when the state was gathered."""

    verified_entries: int
    last_checkpoint_at: datetime | None
    error: str | None


@dataclass(frozen=True, slots=True)
class ModelState:
    """One registered model version, its package metadata and the releases that deploy it."""

    version: ModelVersion
    metadata: ModelMetadata | None
    releases: tuple[ReleaseRow, ...]


@dataclass(frozen=True)
class PlantState:
    settings: ServerConfig
    now: datetime
    retention: RetentionConfig
    accounts: tuple[AccountState, ...]
    nodes: tuple[NodeState, ...]
    edge_configs: tuple[EdgeConfigState, ...]
    ca_certificate: CertificateState | None
    server_certificate: CertificateState | None
    last_build: DocumentBuildRow | None
    last_notice: NoticePublicationRow | None
    last_review: AccessReviewRow | None
    last_signed_review: AccessReviewRow | None
    keys: KeyState
    audit: AuditState
    models: tuple[ModelState, ...]
    #: Digest of each config file's values as last audited (``server.yaml``, ``edge.yaml[node]``).
    recorded_configs: dict[str, str]
    #: Digest of its edge.yaml each node reported in its last heartbeat (None: not reported).
    reported_configs: dict[str, str | None]
    #: Server processes registered for the internal evidence-view relay (several only).
    replicas: tuple[ReplicaState, ...] = ()
    #: The previous plant CA while a CA rotation overlaps (``lineguard ca rotate``), else None.
    ca_previous: CertificateState | None = None
    #: Active nodes whose usable certificate is not the current CA's (only while one overlaps).
    nodes_on_previous_ca: tuple[str, ...] = ()

    def account(self, username: str) -> AccountState | None:
        return next((a for a in self.accounts if a.username == username), None)

    @property
    def active_accounts(self) -> tuple[AccountState, ...]:
        return tuple(a for a in self.accounts if not a.disabled)


def _certificate(path: Path) -> CertificateState | None:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None
    return CertificateState(
        path, cert.not_valid_before_utc, cert.not_valid_after_utc, cert.subject.rfc4514_string()
    )


def _accounts(session: Session, now: datetime) -> tuple[AccountState, ...]:
    grants: dict[str, list[GrantState]] = {}
    for row in session.scalars(
        select(RoleGrant).where(RoleGrant.revoked_at.is_(None)).order_by(RoleGrant.id)
    ):
        if row.valid_until is not None and row.valid_until <= now:
            continue
        lines = None if row.lines is None else tuple(sorted(row.lines))
        grants.setdefault(row.user_id, []).append(
            GrantState(row.id, Role(row.role), row.site, lines, row.valid_until)
        )
    return tuple(
        AccountState(
            username=u.username,
            display_name=u.display_name,
            disabled=u.disabled,
            mfa=u.mfa_enabled,
            created_at=u.created_at,
            last_login_at=u.last_login_at,
            grants=tuple(grants.get(u.id, ())),
        )
        for u in session.scalars(select(User).order_by(User.username))
    )


def _nodes(session: Session) -> tuple[NodeState, ...]:
    latest: dict[str, datetime] = {}
    for cert in session.scalars(select(NodeCertificate).where(NodeCertificate.revoked_at.is_(None))):
        latest[cert.node_id] = max(cert.not_after, latest.get(cert.node_id, cert.not_after))
    stmt = select(Node).where(Node.status == NodeStatus.ACTIVE).order_by(Node.node_id)
    return tuple(
        NodeState(n.node_id, n.site_id, n.line_id, tuple(sorted(n.camera_ids)), latest.get(n.node_id))
        for n in session.scalars(stmt)
    )


def edge_config_paths(settings: ServerConfig) -> list[Path]:
    """``governance.edge_configs`` (relative ones resolve against the working directory)."""
    return list(settings.governance.edge_configs)


def load_edge_configs(paths: list[Path]) -> tuple[EdgeConfigState, ...]:
    found = []
    for path in paths:
        try:
            found.append(EdgeConfigState(path, load_edge_config(path)))
        except LineGuardError as exc:
            found.append(EdgeConfigState(path, None, "; ".join([exc.message, *exc.details])))
    return tuple(found)


def _keys(data_dir: Path) -> KeyState:
    active = None
    try:
        doc = json.loads(keyring_path(data_dir).read_bytes())
        entry = next(k for k in doc["keys"] if k["kek_id"] == doc["active"])
        active = (str(entry["kek_id"]), datetime.fromisoformat(str(entry["created_at"])))
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        active = None
    signing = tuple(
        (k.key_id, k.label, k.created_at)
        for k in SigningKeyStore(data_dir / "signing").entries()
        if k.state == "active"
    )
    return KeyState(active, signing)


def _audit(session: Session, settings: ServerConfig) -> AuditState:
    public_key = settings.data_dir / "audit" / "signing-key.pub.pem"
    log = DatabaseLog(session, site_id=settings.site_id)
    checkpoints = log.checkpoints()
    last = datetime.fromisoformat(checkpoints[-1].created_at) if checkpoints else None
    try:
        verifier = Ed25519Verifier(load_public_key(public_key.read_bytes(), source=str(public_key)))
        report = verifier.verify(log)
    except OSError as exc:
        return AuditState(0, last, f"cannot read the audit public key {public_key} ({exc.strerror})")
    except LineGuardError as exc:
        return AuditState(0, last, exc.message)
    return AuditState(report.entries, last, None)


def _models(session: Session, data_dir: Path) -> tuple[ModelState, ...]:
    releases: dict[str, list[ReleaseRow]] = {}
    for release in session.scalars(select(ReleaseRow).order_by(ReleaseRow.release)):
        releases.setdefault(release.model_version_id, []).append(release)
    found = []
    for version in session.scalars(
        select(ModelVersion).order_by(ModelVersion.model_id, ModelVersion.version)
    ):
        path = Registry.stored_package(data_dir, version.id) / METADATA_FILE
        try:
            metadata: ModelMetadata | None = ModelMetadata.model_validate_json(path.read_bytes())
        except (OSError, ValueError):
            metadata = None
        found.append(ModelState(version, metadata, tuple(releases.get(version.id, ()))))
    return tuple(found)


_NEWEST_REVIEW = (AccessReviewRow.started_at.desc(), AccessReviewRow.id.desc())


def latest_review(session: Session) -> AccessReviewRow | None:
    return _latest(session, select(AccessReviewRow).order_by(*_NEWEST_REVIEW))


def _latest(session: Session, stmt: Select[_R]) -> _R | None:
    return session.scalars(stmt).first()


def gather(session: Session, settings: ServerConfig, *, now: datetime | None = None) -> PlantState:
    """Read the live state once."""
    now = now or datetime.now(UTC)
    paths = ca_paths(settings.data_dir)
    return PlantState(
        settings=settings,
        now=now,
        retention=effective_policy(session, settings.retention),
        accounts=_accounts(session, now),
        nodes=_nodes(session),
        edge_configs=load_edge_configs(edge_config_paths(settings)),
        ca_certificate=_certificate(paths.cert),
        server_certificate=_certificate(paths.server_cert),
        last_build=_latest(
            session,
            select(DocumentBuildRow).order_by(DocumentBuildRow.built_at.desc(), DocumentBuildRow.id.desc()),
        ),
        last_notice=_latest(
            session, select(NoticePublicationRow).order_by(NoticePublicationRow.recorded_at.desc())
        ),
        last_review=latest_review(session),
        last_signed_review=_latest(
            session,
            select(AccessReviewRow)
            .where(AccessReviewRow.signed_off_at.is_not(None))
            .order_by(*_NEWEST_REVIEW),
        ),
        keys=_keys(settings.data_dir),
        audit=_audit(session, settings),
        models=_models(session, settings.data_dir),
        recorded_configs={r.source: r.sha256 for r in session.scalars(select(ConfigSnapshotRow))},
        reported_configs={h.node_id: h.config_sha256 for h in session.scalars(select(NodeHealthRow))},
        replicas=_replicas(session),
        ca_previous=_certificate(paths.previous_cert) if paths.previous_cert.exists() else None,
        nodes_on_previous_ca=_nodes_on_previous_ca(session, paths.cert)
        if paths.previous_cert.exists()
        else (),
    )


def _nodes_on_previous_ca(session: Session, current: Path) -> tuple[str, ...]:
    try:
        fingerprint = certificate_fingerprint(x509.load_pem_x509_certificate(current.read_bytes()))
    except (OSError, ValueError):
        return ()
    return tuple(nodes_on_other_ca(session, ca_fingerprint=fingerprint))
