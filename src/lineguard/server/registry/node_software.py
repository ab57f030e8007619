"""Publish node software (the LineGuard wheel and its pinned dependencies) for a site.

The bundle goes into the registry's TUF repository under the delegated ``software``
role (its own keys and threshold), with a release document whose number grows per
site, and the publication is audited (``node_software.published``). Nodes then verify
and install it themselves (``lineguard.edge.update.SoftwareUpdater``) and report each
step, audited as ``node_software.step`` under the node's name (:func:`record_software_report`).
"""

from __future__ import annotations

import hashlib
import re

from sqlalchemy.orm import Session

from lineguard.contracts.audit import NodeSoftwarePublished, NodeSoftwareStep
from lineguard.contracts.errors import InputError
from lineguard.server.context import AuditHook
from lineguard.server.registry.publisher import Registry
from lineguard.signing import SoftwareDecision, SoftwareRelease, software_bundle_target

__all__ = ["publish_node_software", "record_software_report"]

_VERSION = re.compile(r"^[0-9][0-9A-Za-z.+-]{0,63}$")


def publish_node_software(
    session: Session,
    *,
    registry: Registry,
    site_id: str,
    version: str,
    bundle: bytes,
    actor: str,
    audit: AuditHook,
) -> SoftwareRelease:
    """Publish ``bundle`` as LineGuard ``version`` for ``site_id``: the next release number."""
    if not _VERSION.fullmatch(version):
        msg = f"version {version!r} is not a LineGuard version (expected e.g. 0.2.0)"
        raise InputError(msg)
    if not bundle:
        msg = "the bundle is empty"
        raise InputError(msg)
    release = SoftwareRelease(
        site_id=site_id,
        release=registry.highest_software_release(site_id) + 1,
        version=version,
        bundle=software_bundle_target(site_id, version),
        bundle_sha256=hashlib.sha256(bundle).hexdigest(),
        bundle_length=len(bundle),
    )
    registry.publish_software(release, bundle)
    event = NodeSoftwarePublished(
        site_id=site_id,
        release=release.release,
        version=version,
        bundle_sha256=release.bundle_sha256,
        bundle_bytes=len(bundle),
    )
    audit(session, event, actor=actor)
    session.commit()
    return release


def record_software_report(
    session: Session, *, node_id: str, site_id: str, report: SoftwareDecision, audit: AuditHook
) -> None:
    """Audit one step a node took with node software, under the node's own name."""
    if report.site_id != site_id:
        msg = f"report names site {report.site_id}, but node {node_id} is enrolled in {site_id}"
        raise InputError(msg)
    if report.outcome == "rejected" and not report.check:
        msg = "a rejection report names the failed check"
        raise InputError(msg)
    step = NodeSoftwareStep(
        outcome="denied" if report.outcome == "rejected" else "success",
        step=report.outcome,
        release=report.release,
        version=report.version,
        check=report.check,
        reason=report.reason,
        running_version=report.running_version,
    )
    audit(session, step, actor=f"node:{node_id}")
    session.commit()
