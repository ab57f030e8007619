"""The registry workflow: register → approve (four eyes) → deploy → roll back; node reports.

Keyword-only functions taking a session; each writes its audit event in the same
transaction as its rows, and commits. Views only translate HTTP to these calls.

* :func:`register` — the upload must already verify against the server's signing trust
  list (unsigned, unknown or revoked key, tampered: refused before anything is stored).
* :func:`approve` / :func:`reject` — by someone other than the registrar (the route
  checks the Cedar forbid through ``check_approval``; :func:`deploy` re-checks with
  ``ensure_four_eyes`` so no code path skips it).
* :func:`deploy` — a new release number (site-wide, strictly increasing), published to
  TUF for the named lines and nodes.
* :func:`rollback` — a new, higher release pointing at an earlier approved version.
* :func:`record_report` — what a node installed or refused, into the audit log.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError as DbIntegrityError
from sqlalchemy.orm import Session

from lineguard.contracts.audit import (
    ModelApproved,
    ModelDeployed,
    ModelRegistered,
    ModelRejected,
    ModelRolledBack,
)
from lineguard.contracts.errors import ConflictError, InputError, NotFoundError
from lineguard.contracts.ids import new_id
from lineguard.server.auth import ensure_four_eyes
from lineguard.server.context import AuditHook
from lineguard.server.registry.models import ModelVersion, ModelVersionState, ReleaseRow
from lineguard.server.registry.publisher import Registry
from lineguard.signing import Release, UpdateReport, package_targets
from lineguard.vision.calibration import describe_operating_point
from lineguard.vision.package import METADATA_FILE, ModelMetadata

log = logging.getLogger(__name__)

__all__ = [
    "approve",
    "current_release",
    "deploy",
    "get_version",
    "list_releases",
    "list_versions",
    "model_classes",
    "operating_point",
    "record_report",
    "register",
    "reject",
    "rollback",
]

_UNKNOWN_SHA256 = "0" * 64


def get_version(session: Session, version_id: str) -> ModelVersion:
    version = session.get(ModelVersion, version_id)
    if version is None:
        msg = f"no registered model version {version_id!r}"
        raise NotFoundError(msg)
    return version


def operating_point(package_dir: Path) -> str | None:
    """A stored version's operating point, read from its (verified at registration) metadata."""
    path = package_dir / METADATA_FILE
    try:
        meta = ModelMetadata.model_validate_json(path.read_bytes())
    except (OSError, ValueError):
        log.warning("registry: the metadata at %s cannot be read", path)
        return None
    return describe_operating_point(meta.threshold)


def named_classes(metadata: ModelMetadata) -> list[str]:
    """The defect classes a package names ([] when its regions are all "anomaly")."""
    return [] if metadata.defect_classes is None else list(metadata.defect_classes.names)


def model_classes(session: Session, *, model_id: str, sha256: str) -> list[str] | None:
    """The named defect classes of the registered package that ran (``model_id`` + graph
    digest, as inspection events report it; the latest version when it was registered
    twice), or None when this server does not know them: the package was never
    registered here, or was registered before the registry kept its classes."""
    names: list[str] | None = session.scalar(
        select(ModelVersion.class_names)
        .where(ModelVersion.model_id == model_id, ModelVersion.sha256 == sha256)
        .order_by(ModelVersion.version.desc())
        .limit(1)
    )
    return None if names is None else list(names)


def list_versions(session: Session) -> Sequence[ModelVersion]:
    return session.scalars(select(ModelVersion).order_by(ModelVersion.model_id, ModelVersion.version)).all()


def list_releases(session: Session) -> Sequence[ReleaseRow]:
    return session.scalars(select(ReleaseRow).order_by(ReleaseRow.release)).all()


def current_release(
    session: Session, *, line: str | None = None, node: str | None = None
) -> ReleaseRow | None:
    """The newest release that names ``line`` (or ``node``)."""
    for row in reversed(list_releases(session)):
        if (line is not None and line in row.lines) or (node is not None and node in row.nodes):
            return row
    return None


def register(
    session: Session,
    *,
    registry: Registry,
    package_dir: Path,
    user_id: str,
    actor: str,
    audit: AuditHook,
) -> ModelVersion:
    """Verify an uploaded package (signature beside it) and record it as the next version."""
    verified = registry.verify_upload(package_dir)
    model_id = verified.package.metadata.model_id
    latest = session.scalar(select(func.max(ModelVersion.version)).where(ModelVersion.model_id == model_id))
    version = ModelVersion(
        id=new_id("mv"),
        model_id=model_id,
        version=(latest or 0) + 1,
        sha256=verified.digest,
        signer_key_id=verified.key_id,
        state=ModelVersionState.REGISTERED,
        registered_by=user_id,
        registered_by_actor=actor,
        registered_at=datetime.now(UTC),
        class_names=named_classes(verified.package.metadata),
    )
    session.add(version)
    session.flush()
    registry.keep(version.id, package_dir)
    audit(session, ModelRegistered(**_fields(version)), actor=actor)
    session.commit()
    return version


def approve(
    session: Session, *, version_id: str, approver_id: str, actor: str, audit: AuditHook
) -> ModelVersion:
    version = _decidable(session, version_id)
    ensure_four_eyes(requested_by=version.registered_by, approvers=[approver_id])
    version.state = ModelVersionState.APPROVED
    version.decided_by, version.decided_by_actor, version.decided_at = approver_id, actor, datetime.now(UTC)
    audit(session, ModelApproved(**_fields(version)), actor=actor)
    session.commit()
    return version


def reject(
    session: Session, *, version_id: str, approver_id: str, actor: str, reason: str, audit: AuditHook
) -> ModelVersion:
    version = _decidable(session, version_id)
    ensure_four_eyes(requested_by=version.registered_by, approvers=[approver_id])
    version.state = ModelVersionState.REJECTED
    version.decided_by, version.decided_by_actor, version.decided_at = approver_id, actor, datetime.now(UTC)
    version.reject_reason = reason[:500]
    audit(session, ModelRejected(reason=reason[:500], **_fields(version)), actor=actor)
    session.commit()
    return version


def deploy(
    session: Session,
    *,
    registry: Registry,
    version_id: str,
    lines: Sequence[str],
    nodes: Sequence[str],
    actor: str,
    audit: AuditHook,
) -> ReleaseRow:
    """Publish an approved version to ``lines`` and ``nodes`` as a new release."""
    version = _deployable(session, version_id)
    row = _new_release(session, registry, version, lines=lines, nodes=nodes, kind="deploy", actor=actor)
    for target in [*row.lines, *row.nodes]:
        audit(session, ModelDeployed(target=target, **_fields(version)), actor=actor)
    session.commit()
    return row


def rollback(
    session: Session,
    *,
    registry: Registry,
    line: str | None,
    node: str | None,
    to_version_id: str | None,
    reason: str,
    actor: str,
    audit: AuditHook,
) -> ReleaseRow:
    """A new, higher release for one line or node, running an earlier approved version."""
    if (line is None) == (node is None):
        msg = "roll back exactly one line or one node"
        raise InputError(msg)
    if not reason.strip():
        msg = "say why the deployment is rolled back (it goes into the audit log)"
        raise InputError(msg)
    current = current_release(session, line=line, node=node)
    if current is None:
        msg = f"nothing was deployed to {line or node}, so there is nothing to roll back"
        raise ConflictError(msg)
    if to_version_id is None:
        earlier = [
            r
            for r in list_releases(session)
            if r.release < current.release
            and r.model_version_id != current.model_version_id
            and ((line in r.lines) if line else (node in r.nodes))
        ]
        if not earlier:
            msg = f"{line or node} never ran an earlier model version: name the version to roll back to"
            raise ConflictError(msg)
        to_version_id = earlier[-1].model_version_id
    version = _deployable(session, to_version_id)
    row = _new_release(
        session,
        registry,
        version,
        lines=[line] if line else [],
        nodes=[node] if node else [],
        kind="rollback",
        actor=actor,
        reason=reason,
        replaces=current.release,
    )
    rolled_back = ModelRolledBack(target=line or node, reason=reason[:500], **_fields(version))
    audit(session, rolled_back, actor=actor)
    session.commit()
    return row


def record_report(session: Session, *, node_id: str, report: UpdateReport, audit: AuditHook) -> None:
    """Audit what a node did with a release: installed it, or refused it and why."""
    if report.node_id != node_id:
        msg = f"report names node {report.node_id}, but the client certificate is node {node_id}"
        raise InputError(msg)
    model_id, version = report.model_id or "unknown", report.model_version or 0
    fields: dict[str, Any] = {
        "model_id": model_id,
        "version": version,
        "sha256": report.sha256 or _UNKNOWN_SHA256,
    }
    if report.outcome == "installed":
        audit(session, ModelDeployed(target=node_id, **fields), actor=f"node:{node_id}")
    else:
        release = f"release {report.release}" if report.release else "an update"
        reason = f"node {node_id} refused {release}: check '{report.check}' failed: {report.reason}"
        refused = ModelRejected(outcome="denied", reason=reason[:500], **fields)
        audit(session, refused, actor=f"node:{node_id}")
    session.commit()


# -- internals -------------------------------------------------------------------------


def _fields(version: ModelVersion) -> dict[str, Any]:
    return {"model_id": version.model_id, "version": version.version, "sha256": version.sha256}


def _decidable(session: Session, version_id: str) -> ModelVersion:
    version = get_version(session, version_id)
    if version.state != ModelVersionState.REGISTERED:
        msg = f"model version {version.model_id} v{version.version} is already {version.state}"
        raise ConflictError(msg)
    return version


def _deployable(session: Session, version_id: str) -> ModelVersion:
    version = get_version(session, version_id)
    if version.state != ModelVersionState.APPROVED or version.decided_by is None:
        msg = f"{version.model_id} v{version.version} is {version.state}: only approved versions deploy"
        raise ConflictError(msg)
    ensure_four_eyes(requested_by=version.registered_by, approvers=[version.decided_by])
    return version


def _new_release(
    session: Session,
    registry: Registry,
    version: ModelVersion,
    *,
    lines: Sequence[str],
    nodes: Sequence[str],
    kind: str,
    actor: str,
    reason: str = "",
    replaces: int | None = None,
) -> ReleaseRow:
    if not lines and not nodes:
        msg = "deploy to at least one line or node"
        raise InputError(msg)
    highest = session.scalar(select(func.max(ReleaseRow.release))) or 0
    number = max(highest, registry.highest_published_release()) + 1
    row = ReleaseRow(
        id=new_id("rel"),
        release=number,
        kind=kind,
        model_version_id=version.id,
        lines=sorted(set(lines)),
        nodes=sorted(set(nodes)),
        created_by_actor=actor,
        created_at=datetime.now(UTC),
        reason=reason[:500],
        replaces_release=replaces,
    )
    session.add(row)
    try:
        session.flush()
    except DbIntegrityError:
        session.rollback()
        msg = "another release was created at the same moment: try again"
        raise ConflictError(msg) from None
    release = Release(
        release=number,
        kind="rollback" if kind == "rollback" else "deploy",
        model_id=version.model_id,
        model_version=version.version,
        model_version_id=version.id,
        sha256=version.sha256,
        lines=tuple(row.lines),
        nodes=tuple(row.nodes),
        files=package_targets(version.id),
        created_at=row.created_at,
        replaces_release=replaces,
    )
    registry.publish_release(release)
    return row
