"""Revoking a server replica's relay identity, and the replicas an operator can see.

A replica (one server process on PostgreSQL) authenticates to the others on the internal
relay with a certificate naming its replica id (:mod:`.peers`). When its host is
decommissioned or suspected compromised, an operator revokes that id
(``POST /api/v1/replicas/{replica_id}/revoke``, ``node_management.write`` site-wide,
audited ``replica.revoked``): a row of ``evidence_relay_revocations``, so every replica
agrees at once and without a restart:

* every listener refuses a connection whose certificate names a revoked id, checked in
  PostgreSQL on each connection (:func:`check_not_revoked`; audited as
  ``replica.relay_refused``, :mod:`.refusals`);
* a revoked replica is never counted alive (:meth:`.shared.SharedRelay._alive`), so no
  one hands it an upload, asks it for an image or gives a node a request it owns; the
  views it owned end ``lost`` in the revoking transaction;
* a revoked replica is refused a renewed certificate (:func:`issue_unless_revoked`), opens
  no view, and drops the images it held at its next heartbeat.

Replica ids are made fresh at each start, so a revoked process stays out for good; its
host started again comes back under a new id with a new certificate, which is why the
credentials that let a process issue one (the CA passphrase, the database password) must
be taken from a host that is decommissioned or compromised (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from lineguard.contracts.audit import ReplicaRevoked
from lineguard.contracts.errors import ConflictError, NotFoundError
from lineguard.contracts.evidence_view import ReplicaRevokedError
from lineguard.server.context import AuditHook
from lineguard.server.evidence_views.models import EvidenceViewRow, RelayPeerRow, RelayRevocationRow
from lineguard.server.evidence_views.shared import SharedRelay
from lineguard.server.pki import PlantCa, ReplicaCredentials

__all__ = [
    "ReplicaView",
    "check_not_revoked",
    "issue_unless_revoked",
    "list_replicas",
    "revoke_replica",
]

_ACTIVE = ("queued", "sent", "ready")


@dataclass(frozen=True)
class ReplicaView:
    """One registered replica as an operator sees it."""

    replica_id: str
    host: str
    port: int
    started_at: datetime
    heartbeat_at: datetime
    #: Seconds since its last heartbeat, on the database's clock.
    heartbeat_age_s: float
    revoked: bool
    #: Its host clock minus the database's, as it measured at its previous heartbeat.
    clock_skew_s: float
    #: Connections its relay refused since it started.
    refused_connections: int


def _revocation(session: Session, replica_id: str) -> RelayRevocationRow | None:
    return session.get(RelayRevocationRow, replica_id)


def check_not_revoked(sessions: sessionmaker[Session], replica_id: str) -> None:
    """Raise :class:`ReplicaRevokedError` when ``replica_id`` was revoked (one primary-key read)."""
    with sessions() as session:
        row = _revocation(session, replica_id)
        if row is not None:
            msg = (
                f"server replica {replica_id} was revoked at {row.revoked_at.isoformat()} "
                f"by {row.revoked_by}: {row.reason}"
            )
            raise ReplicaRevokedError(msg[:1000])


def issue_unless_revoked(
    sessions: sessionmaker[Session], ca: PlantCa, *, replica_id: str, host: str, hours: float
) -> ReplicaCredentials:
    """A fresh replica certificate, unless this replica was revoked (then ReplicaRevokedError)."""
    check_not_revoked(sessions, replica_id)
    return ca.issue_replica_certificate(replica_id=replica_id, host=host, hours=hours)


def list_replicas(session: Session) -> list[ReplicaView]:
    """Every registered replica (alive or not yet purged), oldest first, with its heartbeat's age."""
    rows = session.scalars(
        select(RelayPeerRow).order_by(RelayPeerRow.started_at, RelayPeerRow.replica_id)
    ).all()
    if not rows:  # also every single-process server (SQLite included): nothing registers
        return []
    db_now: datetime = session.execute(select(func.now())).scalar_one()  # the clock liveness uses
    revoked = set(session.scalars(select(RelayRevocationRow.replica_id)).all())
    return [
        ReplicaView(
            replica_id=peer.replica_id,
            host=peer.host,
            port=peer.port,
            started_at=peer.started_at,
            heartbeat_at=peer.heartbeat_at,
            heartbeat_age_s=(db_now - peer.heartbeat_at).total_seconds(),
            revoked=peer.replica_id in revoked,
            clock_skew_s=peer.clock_skew_s,
            refused_connections=peer.refused_connections,
        )
        for peer in rows
    ]


def revoke_replica(
    session: Session,
    *,
    replica_id: str,
    reason: str,
    actor: str,
    audit: AuditHook,
    lost_reason: Callable[[str], str] = SharedRelay.lost_reason,
) -> ReplicaRevoked:
    """Revoke a registered replica's relay identity and end the views it owned; audited, committed.

    :class:`NotFoundError` for an id no replica registered (or one purged long ago),
    :class:`ConflictError` when it is revoked already.
    """
    peer = session.get(RelayPeerRow, replica_id)
    if peer is None:
        msg = f"no server replica {replica_id!r} is registered (GET /api/v1/replicas lists them)"
        raise NotFoundError(msg)
    if (done := _revocation(session, replica_id)) is not None:
        msg = f"server replica {replica_id} was already revoked at {done.revoked_at.isoformat()}"
        raise ConflictError(msg)
    now = session.scalar(select(func.now()))
    session.add(
        RelayRevocationRow(
            replica_id=replica_id, host=peer.host, revoked_at=now, revoked_by=actor[:200], reason=reason[:500]
        )
    )
    why = f"{lost_reason(replica_id)} (its relay identity was revoked)"[:500]
    ended = session.execute(
        update(EvidenceViewRow)
        .where(EvidenceViewRow.owner_id == replica_id, EvidenceViewRow.state.in_(_ACTIVE))
        .values(state="lost", reason=why, finished_at=now)
    )
    event = ReplicaRevoked(
        replica_id=replica_id,
        host=f"{peer.host}:{peer.port}",
        reason=reason[:500],
        views_ended=int(ended.rowcount),  # type: ignore[attr-defined]
    )
    audit(session, event, actor=actor)
    session.commit()
    return event
