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

Revocation names the *replica* (one host's ``lineguard server``), whose id is stable
across restarts (:mod:`.identity`): every worker of it (``<replica>.w<k>``) is out, and
the host started again keeps its id, so it is refused a certificate and does not start.
A host that is compromised can still choose another id (it holds what the id is made
from, and the CA passphrase and the database password), which is why those must be
changed too (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from lineguard.contracts.audit import ReplicaRevoked
from lineguard.contracts.errors import ConflictError, NotFoundError
from lineguard.contracts.evidence_view import ReplicaRevokedError
from lineguard.server.context import AuditHook
from lineguard.server.evidence_views.identity import check_replica_id, replica_of
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
    #: Its plant CA role: ``leader``, ``issuer`` (standby) or ``none`` (no CA key on its host).
    ca_role: str


def _revocation(session: Session, replica_id: str) -> RelayRevocationRow | None:
    return session.get(RelayRevocationRow, replica_id)


def check_not_revoked(sessions: sessionmaker[Session], replica_id: str) -> None:
    """Raise :class:`ReplicaRevokedError` when the replica of process ``replica_id`` was revoked.

    One primary-key read; ``rep_x.w1`` is revoked when ``rep_x`` is.
    """
    with sessions() as session:
        replica = replica_of(replica_id)
        row = _revocation(session, replica)
        if row is not None:
            named = replica if replica == replica_id else f"{replica} (process {replica_id})"
            msg = (
                f"server replica {named} was revoked at {row.revoked_at.isoformat()} "
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
            revoked=replica_of(peer.replica_id) in revoked,
            clock_skew_s=peer.clock_skew_s,
            refused_connections=peer.refused_connections,
            ca_role=peer.ca_role,
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
    not_running: bool = False,
) -> ReplicaRevoked:
    """Revoke a replica's relay identity and end the views its processes owned; audited, committed.

    ``replica_id`` is a replica id or one of its process ids (``rep_x.w1``): the whole
    replica is revoked. :class:`NotFoundError` for an id no process registered (or one
    purged long ago) unless ``not_running`` (a host stopped before it was revoked: its
    id is in its ``data_dir/replicas/<host>.id``); :class:`ConflictError` when it is
    revoked already.
    """
    replica = replica_of(replica_id)
    processes = session.scalars(
        select(RelayPeerRow)
        .where(or_(RelayPeerRow.replica_id == replica, RelayPeerRow.replica_id.like(f"{replica}.%")))
        .order_by(RelayPeerRow.replica_id)
    ).all()
    if not processes and not not_running:
        msg = (
            f"no server replica {replica_id!r} is registered (GET /api/v1/replicas lists them; "
            "a replica that is not running is revoked with --not-running)"
        )
        raise NotFoundError(msg)
    check_replica_id(replica, source="the replica id")
    if (done := _revocation(session, replica)) is not None:
        msg = f"server replica {replica} was already revoked at {done.revoked_at.isoformat()}"
        raise ConflictError(msg)
    now = session.scalar(select(func.now()))
    where = ", ".join(f"{p.host}:{p.port}" for p in processes) or "not running"
    session.add(
        RelayRevocationRow(
            replica_id=replica,
            host=processes[0].host if processes else "",
            revoked_at=now,
            revoked_by=actor[:200],
            reason=reason[:500],
        )
    )
    owners = [p.replica_id for p in processes]
    why = f"{lost_reason(replica)} (its relay identity was revoked)"[:500]
    ended = session.execute(
        update(EvidenceViewRow)
        .where(EvidenceViewRow.owner_id.in_([replica, *owners]), EvidenceViewRow.state.in_(_ACTIVE))
        .values(state="lost", reason=why, finished_at=now)
    )
    event = ReplicaRevoked(
        replica_id=replica,
        host=where[:200],
        reason=reason[:500],
        views_ended=int(ended.rowcount),  # type: ignore[attr-defined]
    )
    audit(session, event, actor=actor)
    session.commit()
    return event
