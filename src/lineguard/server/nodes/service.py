"""Node identity: issue enrollment tokens, enroll, renew, revoke, authenticate.

Keyword-only functions taking a session; each commits its own transaction so an
audit record and the change it describes are written together. Authentication runs on
every node request: the certificate's serial must be one this server issued, not
superseded or revoked, for an active node, and within its validity period, so a
revocation takes effect on the very next request.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import Dialect, Engine, bindparam, or_, select, update
from sqlalchemy.orm import Session

from lineguard.contracts.audit import (
    AccessDenied,
    EnrollmentTokenIssued,
    NodeCertificateSuperseded,
    NodeEnrolled,
    NodeRevoked,
)
from lineguard.contracts.errors import AuthenticationError, ConflictError, InputError, NotFoundError
from lineguard.server.context import AuditHook
from lineguard.server.nodes.models import EnrollmentToken, Node, NodeCertificate, NodeStatus
from lineguard.server.nodes.schemas import CertificateResponse, NodeView
from lineguard.server.pki import (
    EnrollmentTokenText,
    PlantCa,
    certificate_fingerprint,
    checked_csr_key,
    hash_secret,
    secrets_match,
    signing_process,
)
from lineguard.server.storage import driver_execute

__all__ = [
    "NodeIdentity",
    "admit_certificate",
    "authenticate_certificate",
    "certificate_response",
    "check_enrollment",
    "enroll",
    "issue_token",
    "list_nodes",
    "public_key_sha256",
    "record_certificate",
    "revoke",
]

#: Same rule as the contracts' ``Name`` (sites, lines, cameras, nodes).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class NodeIdentity:
    """Who a node request comes from, as the server enrolled it."""

    node_id: str
    site_id: str
    line_id: str
    camera_ids: frozenset[str]
    serial: str


def _check_name(what: str, value: str) -> None:
    if not _NAME.fullmatch(value):
        msg = f"{what} {value!r} is not a valid name (expected {_NAME.pattern})"
        raise InputError(msg)


def issue_token(
    session: Session,
    *,
    ca: PlantCa,
    node_id: str,
    site_id: str,
    line_id: str,
    camera_ids: list[str],
    ttl: timedelta,
    created_by: str,
    audit: AuditHook,
    now: datetime | None = None,
) -> EnrollmentTokenText:
    """A one-time token binding ``node_id`` to a site, a line and its cameras."""
    now = now or datetime.now(UTC)
    for what, value in [("node id", node_id), ("site id", site_id), ("line id", line_id)]:
        _check_name(what, value)
    if not camera_ids:
        msg = "a node needs at least one camera id"
        raise InputError(msg)
    for camera_id in camera_ids:
        _check_name("camera id", camera_id)
    existing = session.get(Node, node_id)
    if existing is not None and existing.status == NodeStatus.ACTIVE:
        msg = f"node {node_id} is enrolled and active; revoke it before issuing a new token"
        raise ConflictError(msg)
    token = EnrollmentTokenText.generate(ca.serving_fingerprint)  # what the node can verify the server by
    session.add(
        EnrollmentToken(
            token_id=token.token_id,
            secret_sha256=hash_secret(token.secret),
            node_id=node_id,
            site_id=site_id,
            line_id=line_id,
            camera_ids=sorted(set(camera_ids)),
            created_at=now,
            expires_at=now + ttl,
            created_by=created_by,
        )
    )
    audit(
        session,
        EnrollmentTokenIssued(token_id=token.token_id, line_id=line_id, expires_at=now + ttl),
        actor=created_by,
    )
    session.commit()
    return token


def load_csr(csr_pem: str) -> x509.CertificateSigningRequest:
    try:
        return x509.load_pem_x509_csr(csr_pem.encode("ascii", errors="replace"))
    except (ValueError, x509.InvalidVersion):  # a well-formed PEM may carry a bad version field
        msg = "csr_pem is not a PEM-encoded PKCS#10 certificate signing request"
        raise InputError(msg) from None


def public_key_sha256(key: ec.EllipticCurvePublicKey) -> str:
    """sha256 of the SubjectPublicKeyInfo (DER), lower-case hex: what "the same key" means to a renewal."""
    return hashlib.sha256(key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).hexdigest()


def record_certificate(
    session: Session,
    issued_node: Node,
    cert: x509.Certificate,
    ca: PlantCa,
    now: datetime,
    *,
    pem: str,
    key_sha256: str,
) -> None:
    """Write down a certificate just issued, with what a repeated renewal answers from."""
    session.add(
        NodeCertificate(
            serial=format(cert.serial_number, "x"),
            node_id=issued_node.node_id,
            fingerprint_sha256=certificate_fingerprint(cert),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            issued_at=now,
            ca_fingerprint=ca.fingerprint_sha256,
            public_key_sha256=key_sha256,
            certificate_pem=pem,
        )
    )


def certificate_response(node: Node, pem: str, ca: PlantCa, not_after: datetime) -> CertificateResponse:
    return CertificateResponse(
        node_id=node.node_id,
        site_id=node.site_id,
        line_id=node.line_id,
        camera_ids=list(node.camera_ids),
        certificate_pem=pem,
        ca_pem=ca.trust_pem,  # during a CA rotation both CAs: the node keeps the bundle
        not_after=not_after,
    )


def _token_refusal(
    session: Session, token: EnrollmentTokenText, *, ca: PlantCa, now: datetime, lock: bool
) -> tuple[EnrollmentToken | None, str | None]:
    """The token's row and why it cannot be redeemed now (None: it can).

    ``lock``: the row is locked until the transaction ends, so two concurrent redemptions
    cannot both succeed; only the process that signs takes it (a non-issuer's look
    before forwarding is advisory: the issuer looks again under the lock).
    """
    query = select(EnrollmentToken).where(EnrollmentToken.token_id == token.token_id)
    row = session.scalars(query.with_for_update() if lock else query).one_or_none()
    refusal = None
    if row is None or not secrets_match(token.secret, row.secret_sha256):
        refusal = "unknown enrollment token"
    elif not ca.trusts_fingerprint(token.ca_sha256):  # during a rotation, either CA
        refusal = "enrollment token was issued for another plant CA"
    elif row.used_at is not None:
        refusal = f"enrollment token {row.token_id} was already used at {row.used_at.isoformat()}"
    elif row.expires_at <= now:
        refusal = f"enrollment token {row.token_id} expired at {row.expires_at.isoformat()}"
    return row, refusal


def _refuse(
    session: Session, token: EnrollmentTokenText, refusal: str, *, audit: AuditHook, source: str | None
) -> AuthenticationError:
    denied = AccessDenied(
        action="node.enroll",
        resource=f"enrollment_token:{token.token_id}",
        reason=refusal,
        source_ip=source,
    )
    audit(session, denied, actor="system:enrollment")
    session.commit()
    return AuthenticationError(refusal)


def check_enrollment(
    session: Session,
    *,
    ca: PlantCa,
    token_text: str,
    csr_pem: str,
    audit: AuditHook,
    source: str | None = None,
    now: datetime | None = None,
) -> None:
    """What a non-issuer checks before forwarding an enrollment: the same refusals, audited
    the same way, without locking the token or signing (the issuer checks again)."""
    now = now or datetime.now(UTC)
    token = EnrollmentTokenText.parse(token_text)
    _, refusal = _token_refusal(session, token, ca=ca, now=now, lock=False)
    if refusal is not None:
        raise _refuse(session, token, refusal, audit=audit, source=source)
    session.rollback()
    checked_csr_key(load_csr(csr_pem))


def enroll(
    session: Session,
    *,
    ca: PlantCa,
    token_text: str,
    csr_pem: str,
    cert_days: float,
    audit: AuditHook,
    source: str | None = None,
    requested_by: str | None = None,
    now: datetime | None = None,
) -> CertificateResponse:
    """Redeem a token: check it, sign the node's CSR, record the certificate.

    ``requested_by``: the replica process that forwarded the request (it reached a
    non-issuer); the audit entry names it beside the signing process.
    """
    now = now or datetime.now(UTC)
    token = EnrollmentTokenText.parse(token_text)
    row, refusal = _token_refusal(session, token, ca=ca, now=now, lock=True)
    if refusal is not None:
        raise _refuse(session, token, refusal, audit=audit, source=source)
    assert row is not None  # noqa: S101 - refusal covers None
    csr = load_csr(csr_pem)
    key = checked_csr_key(csr)
    issued = ca.issue_node_certificate(csr, node_id=row.node_id, days=cert_days, now=now)
    node = session.get(Node, row.node_id)
    if node is None:
        node = Node(
            node_id=row.node_id, site_id=row.site_id, line_id=row.line_id, camera_ids=list(row.camera_ids)
        )
        session.add(node)
    else:  # re-enrolling a revoked node (replacement hardware) takes the new binding
        node.site_id, node.line_id, node.camera_ids = row.site_id, row.line_id, list(row.camera_ids)
        node.revoked_at, node.revoked_reason = None, None
    node.status = NodeStatus.ACTIVE
    node.enrolled_at = now
    row.used_at = now
    session.flush()
    record_certificate(
        session, node, issued.certificate, ca, now, pem=issued.pem, key_sha256=public_key_sha256(key)
    )
    enrolled = NodeEnrolled(
        node_id=node.node_id,
        line_id=node.line_id,
        certificate_serial=issued.serial_hex,
        ca_fingerprint_sha256=ca.fingerprint_sha256,
        issued_by=signing_process(),
        requested_by=requested_by,
    )
    audit(session, enrolled, actor=f"node:{node.node_id}")
    session.commit()
    return certificate_response(node, issued.pem, ca, issued.not_after)


def nodes_on_other_ca(session: Session, *, ca_fingerprint: str, now: datetime | None = None) -> list[str]:
    """Active nodes whose usable certificate was not issued by the CA ``ca_fingerprint``.

    What ``lineguard ca retire`` must not strand: such a node can no longer connect once
    the other CA is retired. Certificates recorded before CA rotation existed (no
    ``ca_fingerprint``) count as another CA's.
    """
    now = now or datetime.now(UTC)
    rows = session.scalars(
        select(NodeCertificate.node_id)
        .join(Node, Node.node_id == NodeCertificate.node_id)
        .where(
            Node.status == NodeStatus.ACTIVE,
            NodeCertificate.revoked_at.is_(None),
            NodeCertificate.not_after > now,
            or_(NodeCertificate.ca_fingerprint.is_(None), NodeCertificate.ca_fingerprint != ca_fingerprint),
        )
        .distinct()
        .order_by(NodeCertificate.node_id)
    )
    return list(rows)


def pending_enrollment_tokens(session: Session, *, now: datetime | None = None) -> list[str]:
    """The nodes of unused, unexpired enrollment tokens (each pins the CA serving when it was made)."""
    now = now or datetime.now(UTC)
    rows = session.scalars(
        select(EnrollmentToken.node_id)
        .where(EnrollmentToken.used_at.is_(None), EnrollmentToken.expires_at > now)
        .distinct()
        .order_by(EnrollmentToken.node_id)
    )
    return list(rows)


def revoke_certificates_of_other_ca(
    session: Session, *, ca_fingerprint: str, now: datetime | None = None
) -> int:
    """Mark every usable certificate not issued by ``ca_fingerprint`` revoked (its node must enroll again)."""
    now = now or datetime.now(UTC)
    done = session.execute(
        update(NodeCertificate)
        .where(
            NodeCertificate.revoked_at.is_(None),
            or_(NodeCertificate.ca_fingerprint.is_(None), NodeCertificate.ca_fingerprint != ca_fingerprint),
        )
        .values(revoked_at=now)
    )
    return int(done.rowcount)  # type: ignore[attr-defined]


def revoke(
    session: Session, *, node_id: str, reason: str, actor: str, audit: AuditHook, now: datetime | None = None
) -> None:
    """Revoke a node and every certificate it holds; effective on its next request."""
    now = now or datetime.now(UTC)
    node = session.get(Node, node_id)
    if node is None:
        msg = f"no node {node_id!r} is enrolled"
        raise NotFoundError(msg)
    if node.status == NodeStatus.REVOKED:
        msg = (
            f"node {node_id} was already revoked at {node.revoked_at.isoformat() if node.revoked_at else '?'}"
        )
        raise ConflictError(msg)
    node.status = NodeStatus.REVOKED
    node.revoked_at = now
    node.revoked_reason = reason[:500]
    session.execute(
        update(NodeCertificate)
        .where(NodeCertificate.node_id == node_id, NodeCertificate.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    audit(session, NodeRevoked(node_id=node_id, reason=reason[:500]), actor=actor)
    session.commit()


def list_nodes(session: Session) -> list[NodeView]:
    nodes = session.scalars(select(Node).order_by(Node.node_id)).all()
    views = []
    for node in nodes:
        not_after = session.scalar(
            select(NodeCertificate.not_after)
            .where(NodeCertificate.node_id == node.node_id, NodeCertificate.revoked_at.is_(None))
            .order_by(NodeCertificate.not_after.desc())
            .limit(1)
        )
        views.append(
            NodeView(
                node_id=node.node_id,
                site_id=node.site_id,
                line_id=node.line_id,
                camera_ids=list(node.camera_ids),
                status=node.status,
                enrolled_at=node.enrolled_at,
                revoked_at=node.revoked_at,
                certificate_not_after=not_after,
            )
        )
    return views


@dataclass(frozen=True)
class _ParsedCert:
    serial: str
    fingerprint: str
    not_before: datetime
    not_after: datetime


@lru_cache(maxsize=4096)
def _parse_pem(pem: str) -> _ParsedCert:
    # Parsing X.509 costs more than the database lookup; certificates are immutable, so
    # the parse is cached by the PEM text. Their *status* is never cached.
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except ValueError:
        msg = "the client certificate could not be parsed"
        raise AuthenticationError(msg) from None
    return _ParsedCert(
        format(cert.serial_number, "x"),
        certificate_fingerprint(cert),
        cert.not_valid_before_utc,
        cert.not_valid_after_utc,
    )


#: What authentication reads on every node request: columns, not ORM objects (loading
#: two entities into the session cost more than the query), built once.
_CERTIFICATE_STATUS = (
    select(
        NodeCertificate.serial,
        NodeCertificate.fingerprint_sha256,
        NodeCertificate.revoked_at,
        NodeCertificate.accepted_until,
        NodeCertificate.first_seen_at,
        NodeCertificate.superseded_by,
        Node.node_id,
        Node.site_id,
        Node.line_id,
        Node.camera_ids,
        Node.status,
    )
    .join(Node, Node.node_id == NodeCertificate.node_id)
    .where(NodeCertificate.serial == bindparam("serial"))
)


@lru_cache(maxsize=8)
def _status_sql(dialect: Dialect) -> str:
    """:data:`_CERTIFICATE_STATUS` as driver SQL with one positional parameter (what
    :func:`~lineguard.server.storage.driver_execute` sends): ``?`` for sqlite3, ``%s``
    for psycopg (a dialect of the same kind in ``format`` style compiles it)."""
    if dialect.positional:
        return str(_CERTIFICATE_STATUS.compile(dialect=dialect))
    same_kind: Callable[..., Dialect] = type(dialect)  # every DefaultDialect takes paramstyle
    return str(_CERTIFICATE_STATUS.compile(dialect=same_kind(paramstyle="format")))


@lru_cache(maxsize=4096)
def _camera_set(stored: str) -> frozenset[str]:
    # SQLite hands the JSON column back as its text; a node's list rarely changes.
    cameras = json.loads(stored)
    return frozenset(cameras)


def admit_certificate(
    engine: Engine, *, cert_pem: str, audit: AuditHook, now: datetime | None = None
) -> NodeIdentity:
    """:func:`authenticate_certificate` for the ingest route, cheaper when it admits.

    The same one-row lookup on every request (revocation still takes effect on the next
    one), run as driver SQL (:func:`~lineguard.server.storage.driver_execute`: errors as
    SQLAlchemy raises them) on a pooled connection: no ORM session, no typed result rows
    (those cost ~5x the query itself on SQLite). It only
    admits: anything but an active node's certificate, matching and unrevoked, within its
    validity period, is decided again by :func:`authenticate_certificate` in a session,
    which raises the same error it always did (a refusal is rare, its message exact).
    So is a certificate used for the first time or in its renewal grace (written and
    audited there: ``audit``).
    """
    now = now or datetime.now(UTC)
    parsed = _parse_pem(cert_pem)
    with engine.connect() as connection:  # back to the pool, rolled back, when it closes
        rows = driver_execute(connection, _status_sql(engine.dialect), (parsed.serial,))
    if rows:
        serial, fingerprint, revoked_at, accepted_until, first_seen_at, _, *node_columns = rows[0]
        node_id, site_id, line_id, cameras, status = node_columns
        if (
            fingerprint == parsed.fingerprint
            and status == NodeStatus.ACTIVE
            and revoked_at is None
            and accepted_until is None
            and first_seen_at is not None
            and parsed.not_before <= now < parsed.not_after
        ):
            camera_ids = _camera_set(cameras) if isinstance(cameras, str) else frozenset(cameras)
            return NodeIdentity(node_id, site_id, line_id, camera_ids, serial)
    with Session(engine) as session:  # refused, or a write to make: the full check
        return authenticate_certificate(session, cert_pem=cert_pem, audit=audit, now=now)


def authenticate_certificate(
    session: Session, *, cert_pem: str, audit: AuditHook, now: datetime | None = None
) -> NodeIdentity:
    """The node behind a TLS-verified client certificate, or :class:`AuthenticationError`.

    A renewed certificate's first use retires the one it replaces (committed here, with
    its audit entry): see ``renewal.py``.
    """
    now = now or datetime.now(UTC)
    parsed = _parse_pem(cert_pem)
    found = session.connection().execute(_CERTIFICATE_STATUS, {"serial": parsed.serial}).one_or_none()
    if found is None:
        msg = f"client certificate {parsed.serial} was not issued to any enrolled node"
        raise AuthenticationError(msg)
    record = node = found  # one row: the certificate's columns and its node's
    if record.fingerprint_sha256 != parsed.fingerprint:
        msg = f"client certificate {parsed.serial} does not match the certificate issued with that serial"
        raise AuthenticationError(msg)
    if node.status != NodeStatus.ACTIVE:
        msg = f"node {node.node_id} was revoked"
        raise AuthenticationError(msg)
    if record.revoked_at is not None:
        msg = (
            f"client certificate {parsed.serial} was superseded or revoked at {record.revoked_at.isoformat()}"
        )
        raise AuthenticationError(msg)
    if record.accepted_until is not None and now >= record.accepted_until:
        msg = (
            f"client certificate {parsed.serial} was superseded by the renewed certificate "
            f"{record.superseded_by}, which was not presented before the renewal grace ended at "
            f"{record.accepted_until.isoformat()}"
        )
        raise AuthenticationError(msg)
    if not parsed.not_before <= now < parsed.not_after:
        msg = (
            f"client certificate {parsed.serial} is valid from {parsed.not_before.isoformat()} "
            f"to {parsed.not_after.isoformat()}, not at {now.isoformat()}"
        )
        raise AuthenticationError(msg)
    if record.first_seen_at is None:
        _note_first_use(session, serial=record.serial, node_id=node.node_id, audit=audit, now=now)
    return NodeIdentity(node.node_id, node.site_id, node.line_id, frozenset(node.camera_ids), record.serial)


def _note_first_use(session: Session, *, serial: str, node_id: str, audit: AuditHook, now: datetime) -> None:
    """The node holds this certificate: the one it renewed from stops being accepted.

    Only the request that sets ``first_seen_at`` retires and audits (concurrent first
    requests: the others' update matches no row once the first commits).
    """
    claimed = session.execute(
        update(NodeCertificate)
        .where(NodeCertificate.serial == serial, NodeCertificate.first_seen_at.is_(None))
        .values(first_seen_at=now)
    )
    if claimed.rowcount:  # type: ignore[attr-defined]
        previous = session.scalars(
            select(NodeCertificate)
            .where(NodeCertificate.superseded_by == serial, NodeCertificate.revoked_at.is_(None))
            .with_for_update()
        ).all()
        for row in previous:
            row.revoked_at = now
            event = NodeCertificateSuperseded(
                node_id=node_id,
                certificate_serial=row.serial,
                superseded_by=serial,
                reason="renewed_certificate_used",
            )
            audit(session, event, actor=f"node:{node_id}")
    session.commit()


def active_identity(session: Session, *, node_id: str) -> NodeIdentity:
    """The enrolled, active node ``node_id`` with a certificate not revoked, or :class:`AuthenticationError`.

    For transports where something else checked the certificate (the MQTT broker, against
    the plant CA, with a topic ACL on the certificate's name): the server still refuses a
    node it revoked, since the broker does not know about revocations.
    """
    found = session.execute(
        select(Node.node_id, Node.site_id, Node.line_id, Node.camera_ids, Node.status, NodeCertificate.serial)
        .join(NodeCertificate, NodeCertificate.node_id == Node.node_id)
        .where(Node.node_id == node_id, NodeCertificate.revoked_at.is_(None))
        .order_by(NodeCertificate.issued_at.desc())
        .limit(1)
    ).one_or_none()
    if found is None:
        msg = f"node {node_id} is not enrolled or holds no valid certificate"
        raise AuthenticationError(msg)
    if found.status != NodeStatus.ACTIVE:
        msg = f"node {node_id} was revoked"
        raise AuthenticationError(msg)
    return NodeIdentity(
        found.node_id, found.site_id, found.line_id, frozenset(found.camera_ids), found.serial
    )
