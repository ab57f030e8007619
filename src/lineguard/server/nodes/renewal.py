"""Node certificate renewal that survives a lost answer and proves the node asked.

Renewal is idempotent per key. The issuer records every certificate it signs with its
public key and PEM; a node that asks again with the certificate it holds and the *same*
CSR key (its answer was lost: a dropped connection, a forwarding replica that died after
the issuer signed) is sent the certificate already issued, audited
``node.certificate_renewed`` with ``repeated``, and nothing is signed. The node keeps its
pending key on disk until it holds the certificate (``edge/identity/renew.py``), so its
retry carries the same key.

The previous certificate is not superseded when the issuer signs but when the node
shows it holds the new one: it stays accepted until the renewed certificate is first
presented on any node route (ingest, heartbeat, renewal; ``service.authenticate_certificate``
retires it then) or, for a node that never comes back with it, until the grace
(``pki.renewal_grace_hours``) ends (:func:`retire_lapsed_certificates`, every minute).
Both are audited ``node.certificate_superseded``. A revocation is unaffected: it ends
every certificate of the node at once, in grace or not.

Proof of possession: the node signs :func:`~lineguard.contracts.certificates.renewal_proof_message`
(its certificate, the CSR) with its current key. A replica without the CA key terminates
the node's TLS and forwards the request, so mTLS alone proves possession only to it; the
issuer checks the proof itself, so a replica that saw a node's certificate cannot renew
it. A request without a proof is renewed only where the node's TLS handshake reached the
issuer itself (nodes older than the proof, during an upgrade); forwarded, it is refused.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lineguard.contracts.audit import NodeCertificateRenewed, NodeCertificateSuperseded
from lineguard.contracts.certificates import renewal_proof_message
from lineguard.contracts.errors import AuthenticationError
from lineguard.server.context import AuditHook
from lineguard.server.nodes.models import Node, NodeCertificate, NodeStatus
from lineguard.server.nodes.schemas import CertificateResponse
from lineguard.server.nodes.service import (
    NodeIdentity,
    certificate_response,
    load_csr,
    public_key_sha256,
    record_certificate,
)
from lineguard.server.pki import PlantCa, certificate_fingerprint, checked_csr_key, signing_process

__all__ = ["SUPERSEDED_ACTOR", "renew", "retire_lapsed_certificates", "verify_proof"]

#: Who the audit log names when a grace ends by itself.
SUPERSEDED_ACTOR = "system:node-certificates"


def verify_proof(*, certificate_pem: str, csr: x509.CertificateSigningRequest, proof: str) -> None:
    """Check the node's renewal proof against the certificate it presented; else 401 saying why."""
    certificate = x509.load_pem_x509_certificate(certificate_pem.encode("ascii"))
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):  # the CA signs P-256 node keys only
        msg = f"the presented certificate holds a {type(key).__name__}, expected an EC P-256 key"
        raise AuthenticationError(msg)
    try:
        signature = base64.b64decode(proof, validate=True)
    except (binascii.Error, ValueError):
        msg = "the renewal proof is not base64"
        raise AuthenticationError(msg) from None
    message = renewal_proof_message(certificate_fingerprint(certificate), csr.public_bytes(Encoding.DER))
    try:
        key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        msg = (
            f"the renewal proof does not verify with the key of certificate {certificate.serial_number:x}: "
            "it must be signed by the node's current key over this certificate and this CSR"
        )
        raise AuthenticationError(msg) from None


def _check_possession(
    *, presented_pem: str, csr: x509.CertificateSigningRequest, proof: str | None, forwarded: bool
) -> None:
    if proof is not None:
        verify_proof(certificate_pem=presented_pem, csr=csr, proof=proof)
    elif forwarded:
        msg = (
            "this renewal reached a replica without the CA key and carries no proof of possession "
            "(a signature by the node's current key): the node software predates it. Upgrade the node, "
            "or point it at a CA issuer replica, whose TLS handshake proves the key"
        )
        raise AuthenticationError(msg)


def renew(
    session: Session,
    *,
    ca: PlantCa,
    identity: NodeIdentity,
    presented_pem: str,
    csr_pem: str,
    proof: str | None,
    forwarded: bool,
    cert_days: float,
    grace: timedelta,
    audit: AuditHook,
    requested_by: str | None = None,
    now: datetime | None = None,
) -> CertificateResponse:
    """A certificate for the CSR's key, to the authenticated node that presented ``presented_pem``.

    ``forwarded``: the node's TLS ended on a replica without the CA key (a proof is then
    required). ``requested_by``: that replica's process id, for the audit entry.
    """
    now = now or datetime.now(UTC)
    csr = load_csr(csr_pem)
    key_sha256 = public_key_sha256(checked_csr_key(csr))
    _check_possession(presented_pem=presented_pem, csr=csr, proof=proof, forwarded=forwarded)
    # The node's row locked: two renewals of one node (a retry racing its first try) one after the other.
    node = session.get(Node, identity.node_id, with_for_update=True)
    if node is None or node.status != NodeStatus.ACTIVE:
        msg = f"node {identity.node_id} is not active"
        raise AuthenticationError(msg)
    presented = session.get(NodeCertificate, identity.serial)
    if presented is None:  # authenticated a moment ago: only a concurrent delete gets here
        msg = f"client certificate {identity.serial} was not issued to any enrolled node"
        raise AuthenticationError(msg)
    pending = session.get(NodeCertificate, presented.superseded_by) if presented.superseded_by else None
    if pending is not None and pending.revoked_at is None:
        if pending.public_key_sha256 == key_sha256 and pending.certificate_pem is not None:
            return _answer(
                session, node, pending, ca, audit=audit, requested_by=requested_by, repeated=True, proof=proof
            )
        pending.revoked_at = now  # another key: never presented (else ``presented`` were retired)
    issued = ca.issue_node_certificate(csr, node_id=node.node_id, days=cert_days, now=now)
    # Anything else still accepted for this node (none, as renewals go) ends now; the
    # presented certificate only once the new one is used, or at the end of the grace
    # (kept from a first renewal: asking again does not extend it).
    session.execute(
        update(NodeCertificate)
        .where(
            NodeCertificate.node_id == node.node_id,
            NodeCertificate.revoked_at.is_(None),
            NodeCertificate.serial != presented.serial,
        )
        .values(revoked_at=now)
    )
    presented.superseded_by = issued.serial_hex
    presented.accepted_until = presented.accepted_until or min(now + grace, presented.not_after)
    record_certificate(session, node, issued.certificate, ca, now, pem=issued.pem, key_sha256=key_sha256)
    session.flush()
    answer = session.get(NodeCertificate, issued.serial_hex)
    assert answer is not None  # noqa: S101 - just added
    return _answer(
        session, node, answer, ca, audit=audit, requested_by=requested_by, repeated=False, proof=proof
    )


def _answer(
    session: Session,
    node: Node,
    answer: NodeCertificate,
    ca: PlantCa,
    *,
    audit: AuditHook,
    requested_by: str | None,
    repeated: bool,
    proof: str | None,
) -> CertificateResponse:
    """Audit and commit the renewal, and send ``answer``: just signed, or (``repeated``) the
    certificate already issued for this key, again (nothing signed)."""
    assert answer.certificate_pem is not None  # noqa: S101 - every renewal and enrollment records it
    renewed = NodeCertificateRenewed(
        node_id=node.node_id,
        certificate_serial=answer.serial,
        ca_fingerprint_sha256=answer.ca_fingerprint,
        issued_by=signing_process(),
        requested_by=requested_by,
        repeated=repeated,
        # verified by now: a proof that did not verify never gets here
        possession="request_signature" if proof is not None else "tls_handshake",
    )
    audit(session, renewed, actor=f"node:{node.node_id}")
    session.commit()
    return certificate_response(node, answer.certificate_pem, ca, answer.not_after)


def retire_lapsed_certificates(session: Session, *, audit: AuditHook, now: datetime | None = None) -> int:
    """End the grace of every previous certificate whose successor was never presented; how many.

    Each is marked revoked at the end of its grace and audited ``grace_ended``; the
    authentication refuses it from that instant anyway, this writes it down. Safe in every
    process at once: rows are locked and skipped when another process holds them.
    """
    now = now or datetime.now(UTC)
    lapsed = session.scalars(
        select(NodeCertificate)
        .where(NodeCertificate.revoked_at.is_(None), NodeCertificate.accepted_until <= now)
        .order_by(NodeCertificate.serial)
        .with_for_update(skip_locked=True)
    ).all()
    for row in lapsed:
        row.revoked_at = row.accepted_until
        event = NodeCertificateSuperseded(
            node_id=row.node_id,
            certificate_serial=row.serial,
            superseded_by=row.superseded_by or "?",
            reason="grace_ended",
        )
        audit(session, event, actor=SUPERSEDED_ACTOR)
    session.commit()
    return len(lapsed)
