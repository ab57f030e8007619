"""Tables of node identity: enrolled nodes, one-time enrollment tokens, issued certificates.

A node is bound at token issue to one site, one line and a fixed set of camera ids;
the server checks every ingested item against that binding. Tokens are stored only as a
hash of their secret. Every certificate the CA issues is recorded by serial, so the
server can refuse a certificate it never issued and revoke one on the next request.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lineguard.server.storage import Base, UtcDateTime, utcnow

__all__ = ["EnrollmentToken", "Node", "NodeCertificate", "NodeStatus"]


class NodeStatus:
    ACTIVE = "active"
    REVOKED = "revoked"


class Node(Base):
    __tablename__ = "nodes"

    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64))
    line_id: Mapped[str] = mapped_column(String(64))
    #: Camera ids this node may write for (a JSON list of names).
    camera_ids: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=NodeStatus.ACTIVE)
    enrolled_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    revoked_reason: Mapped[str | None] = mapped_column(String(500), default=None)


class EnrollmentToken(Base):
    __tablename__ = "enrollment_tokens"

    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: sha256 of the token's secret part; the secret itself is never stored.
    secret_sha256: Mapped[str] = mapped_column(String(64))
    node_id: Mapped[str] = mapped_column(String(64), index=True)
    site_id: Mapped[str] = mapped_column(String(64))
    line_id: Mapped[str] = mapped_column(String(64))
    camera_ids: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    created_by: Mapped[str] = mapped_column(String(128))


class NodeCertificate(Base):
    __tablename__ = "node_certificates"
    __table_args__ = (Index(None, "node_id", "not_after"),)

    #: X.509 serial number, lower-case hex.
    serial: Mapped[str] = mapped_column(String(48), primary_key=True)
    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.node_id", ondelete="CASCADE"))
    fingerprint_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    not_before: Mapped[datetime] = mapped_column(UtcDateTime)
    not_after: Mapped[datetime] = mapped_column(UtcDateTime)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    #: Set when it stopped being accepted: the node revoked, or superseded by a renewal
    #: (when the renewed certificate was first presented, or its grace ended).
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    #: sha256 of the certified public key (SubjectPublicKeyInfo, DER): a renewal retried
    #: with the same key is answered with this certificate again, not a second one.
    public_key_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    #: The certificate as issued (PEM), for that repeated answer.
    certificate_pem: Mapped[str | None] = mapped_column(Text, default=None)
    #: The serial of the renewal that replaces this certificate (None: not renewed).
    superseded_by: Mapped[str | None] = mapped_column(String(48), default=None)
    #: While its successor has not been presented: accepted until then (the renewal grace).
    accepted_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    #: When a node first authenticated with it (None: never yet, e.g. a renewal answer lost).
    first_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    #: sha256 of the plant CA that issued it (None: issued before CA rotation existed, by
    #: the first CA); ``lineguard ca retire`` refuses while an active one names the old CA.
    ca_fingerprint: Mapped[str | None] = mapped_column(String(64), default=None)
