"""What replicas share about evidence views: each view's state and who holds it; never an image.

Used only when several server processes relay views (``http.workers`` or ``http.replicas``
above 1, on PostgreSQL); one process keeps everything in its memory (:mod:`.relay`).

* ``evidence_views`` — one row per view: who opened it (person and browser session), the
  node and evidence asked for, the replica that owns the hand-off (``owner_id``), the
  state and why. No image, no image digest, nothing derived from the pixels.
* ``evidence_relay_peers`` — each live server process's internal relay address, its
  heartbeat and its plant CA role (where a non-issuer forwards what must be signed); a
  view whose owner stopped beating is ``lost``.
* ``evidence_node_polls`` — when each node last long-polled, for the dashboard's hint.
* ``evidence_relay_revocations`` — replica ids whose relay identity an operator revoked:
  every process refuses their relay connections, never counts them alive, and a revoked
  process is refused a renewed certificate (:mod:`.revocation`). Never deleted.
* ``relay_certificate_requests`` — a replica without the CA key asks the issuer for its
  relay certificate: its process id, address and CSR; the issuer writes the certificate
  (or why not) back (:mod:`.relay_certs`). Deleted once read, or when stale.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lineguard.server.storage import Base, UtcDateTime

__all__ = [
    "EvidenceNodePollRow",
    "EvidenceViewRow",
    "RelayCertificateRequestRow",
    "RelayPeerRow",
    "RelayRevocationRow",
]


class EvidenceViewRow(Base):
    __tablename__ = "evidence_views"
    __table_args__ = (
        Index("ix_evidence_views_request_id", "request_id", unique=True),
        Index("ix_evidence_views_node_state", "node_id", "state"),
    )

    view_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64))
    node_id: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(128))
    evidence_ref: Mapped[str] = mapped_column(String(128))
    camera_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    owner_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500), default="")
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: The node's deadline to answer (``opened_at`` + ``node_timeout_s``).
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ready_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    #: The outcome was audited (exactly once, set in the audit entry's transaction).
    reported: Mapped[bool] = mapped_column(Boolean, default=False)


class RelayPeerRow(Base):
    __tablename__ = "evidence_relay_peers"

    replica_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(253))
    port: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: Its host clock minus the database's, as of its previous heartbeat (for the doctor).
    clock_skew_s: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    #: Connections its relay listener refused since it started (a metric; each audited in bulk).
    refused_connections: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Its plant CA role (``server/pki/role.py``): ``leader`` (the issuer that signs for the
    #: others), ``issuer`` (holds the CA key, standby) or ``none`` (never opens the key).
    ca_role: Mapped[str] = mapped_column(String(16), default="issuer", server_default="issuer")


class EvidenceNodePollRow(Base):
    __tablename__ = "evidence_node_polls"

    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    polled_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RelayRevocationRow(Base):
    __tablename__ = "evidence_relay_revocations"

    replica_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: The relay address it last registered (for the operator; the check is on the id).
    host: Mapped[str] = mapped_column(String(253))
    revoked_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(500))


class RelayCertificateRequestRow(Base):
    __tablename__ = "relay_certificate_requests"

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: The process id the certificate will name (``rep_x`` or ``rep_x.w1``).
    replica_id: Mapped[str] = mapped_column(String(64))
    #: The relay address the others dial (the certificate's SAN).
    host: Mapped[str] = mapped_column(String(253))
    csr_pem: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    certificate_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Why the issuer would not sign: the typed error's code, then its message.
    refusal_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    refusal: Mapped[str | None] = mapped_column(String(500), nullable=True)
