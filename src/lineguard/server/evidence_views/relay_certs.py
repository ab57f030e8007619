"""Relay certificates for replicas that hold no CA key, signed by the issuer on request.

A process on a host with ``LINEGUARD_PKI_ISSUER=false`` cannot sign its own relay
certificate, and it cannot ask the issuer over the relay before it has one. So it asks
through the database, the channel every replica already authenticates to: it makes a key
in memory, writes a CSR with its process id and relay address into
``relay_certificate_requests`` (:class:`RelayCertificateRequest`), and reads the answer
back. The issuer that leads (``ca-issuer``) answers every second
(:func:`answer_relay_certificate_requests`): it checks the process id is well formed and
its replica not revoked, takes only the key from the CSR (subject, SAN and profile are its
own), signs with :data:`~lineguard.config.server.HttpConfig.internal_certificate_hours`,
and audits ``replica.relay_certificate_issued``. The requester checks that the answer is
for its key, names its id and chains to a CA it trusts, then deletes the row.

Why not the design's 24 h replica intermediate (``docs/security.md``): an intermediate
is a CA on the non-issuer host. Every TLS listener that trusts the plant CA (the node
HTTPS listener, the MQTT broker) would accept a client chain through it unless each also
checked path constraints OpenSSL does not apply for us, so a compromised non-issuer could
mint certificates those listeners take; recording the intermediate per replica and
refusing it everywhere else is more code at every relying party. A leaf signed by the
issuer gives the non-issuer nothing to sign with. What it costs: a non-issuer starts (and
renews, at half the certificate's life) only while an issuer answers, waiting up to
:data:`START_WAIT_S` at start; a running one keeps its certificate (24 h by default)
through an issuer outage shorter than that.

What the channel proves: that the requester can write to the database, which every
replica can. A compromised host could ask for a relay certificate under another
replica's id; with it it could reach the relay listeners, which a host with the database
password reaches the data behind anyway (docs/security.md names this limit).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from lineguard.contracts.audit import ReplicaRelayCertificateIssued
from lineguard.contracts.certificates import IssuerUnavailableError
from lineguard.contracts.errors import InputError, IntegrityError, LineGuardError
from lineguard.contracts.evidence_view import ReplicaRevokedError
from lineguard.contracts.ids import new_id
from lineguard.server.context import AuditHook
from lineguard.server.evidence_views.models import RelayCertificateRequestRow
from lineguard.server.evidence_views.revocation import check_not_revoked
from lineguard.server.pki import PlantCa, ReplicaCredentials, is_replica_certificate, signing_process

__all__ = [
    "ANSWER_INTERVAL_S",
    "START_WAIT_S",
    "RelayCertificateRequest",
    "answer_relay_certificate_requests",
]

log = logging.getLogger(__name__)

#: How often the issuer that leads looks for requests.
ANSWER_INTERVAL_S = 1.0
#: How long a non-issuer waits at start for an issuer to sign its first relay certificate.
START_WAIT_S = 60.0
#: Requests nobody answered, or answers nobody read, are deleted after this long.
STALE_AFTER = timedelta(minutes=10)
#: At most this many requests answered per look (a flood waits for the next look).
BATCH = 32
#: ``rep_x`` or ``rep_x.w<k>``: the replica id format (identity.py) and a worker suffix.
_PROCESS_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{2,47}(\.w[0-9]{1,3})?$")
_HOST = re.compile(r"^[A-Za-z0-9:.-]{1,253}$")
#: Who the audit log names for the certificates the issuer signs on request.
ISSUER_ACTOR = "system:pki"


@dataclass
class RelayCertificateRequest:
    """One process's request for a relay certificate: submitted, then collected (non-blocking)."""

    sessions: sessionmaker[Session]
    replica_id: str
    host: str
    _key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1()), repr=False
    )
    request_id: str = field(default_factory=lambda: new_id("rcr"))
    submitted_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def submit(self) -> None:
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, self.replica_id)]))
            .sign(self._key, hashes.SHA256())
        )
        with self.sessions.begin() as session:
            session.add(
                RelayCertificateRequestRow(
                    request_id=self.request_id,
                    replica_id=self.replica_id,
                    host=self.host,
                    csr_pem=csr.public_bytes(serialization.Encoding.PEM).decode("ascii"),
                    requested_at=self.submitted_at,
                )
            )

    def collect(self, ca: PlantCa) -> ReplicaCredentials | None:
        """The credentials once the issuer answered (None: not yet); its refusal raised again.

        The answer is checked before use (:class:`IntegrityError` otherwise): the certificate
        holds this request's key, names this process with the replica profile, and was signed
        by a CA this process trusts. The row is deleted once read.
        """
        with self.sessions.begin() as session:
            row = session.get(RelayCertificateRequestRow, self.request_id)
            if row is None:
                msg = f"relay certificate request {self.request_id} is gone (deleted as stale?)"
                raise IssuerUnavailableError(msg)
            if row.answered_at is None:
                return None
            certificate_pem, code, refusal = row.certificate_pem, row.refusal_code, row.refusal
            session.delete(row)
        if certificate_pem is None:
            error = ReplicaRevokedError if code == ReplicaRevokedError.code else InputError
            msg = f"the CA issuer refused this replica's relay certificate: {refusal}"
            raise error(msg)
        cert = x509.load_pem_x509_certificate(certificate_pem.encode("ascii"))
        self._check(cert, ca)
        key_pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return ReplicaCredentials(key_pem, certificate_pem.encode("ascii"))

    def _check(self, cert: x509.Certificate, ca: PlantCa) -> None:
        names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        named = str(names[0].value) if names else ""
        if cert.public_key() != self._key.public_key():
            msg = f"the relay certificate answered for {self.replica_id} holds another key than its request's"
            raise IntegrityError(msg)
        if not is_replica_certificate(cert) or named != self.replica_id:
            msg = f"the relay certificate answered is no replica certificate of {self.replica_id}: {named!r}"
            raise IntegrityError(msg)
        if not any(cert.issuer == c.subject for c in ca.trusted):
            msg = (
                f"the relay certificate answered for {self.replica_id} was issued by "
                f"{cert.issuer.rfc4514_string()}, not by a plant CA trusted now"
            )
            raise IntegrityError(msg)
        ca.verify_issued(cert)

    def withdraw(self) -> None:
        """Delete the request (given up on: a timeout, a stop)."""
        with self.sessions.begin() as session:
            session.execute(
                delete(RelayCertificateRequestRow).where(
                    RelayCertificateRequestRow.request_id == self.request_id
                )
            )


def _refusal(replica_id: str, host: str, sessions: sessionmaker[Session]) -> LineGuardError | None:
    if not _PROCESS_ID.match(replica_id):
        return InputError(f"process id {replica_id[:80]!r} is not a replica process id")
    if not _HOST.match(host) or host in {"0.0.0.0", "::"}:  # noqa: S104 - refused, not bound
        return InputError(f"relay address {host[:80]!r} is not a host name or address to dial")
    try:
        check_not_revoked(sessions, replica_id)
    except ReplicaRevokedError as exc:
        return exc
    return None


def answer_relay_certificate_requests(
    sessions: sessionmaker[Session],
    ca: PlantCa,
    *,
    hours: float,
    audit: AuditHook,
    now: datetime | None = None,
) -> int:
    """On the issuer that leads (blocking): sign or refuse each open request; how many answered.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED``, so a second issuer looking at the same
    moment answers other rows, never the same one twice. Stale rows are deleted.
    """
    now = now or datetime.now(UTC)
    answered = 0
    with sessions.begin() as session:
        session.execute(
            delete(RelayCertificateRequestRow).where(
                RelayCertificateRequestRow.requested_at < now - STALE_AFTER
            )
        )
        rows = session.scalars(
            select(RelayCertificateRequestRow)
            .where(RelayCertificateRequestRow.answered_at.is_(None))
            .order_by(RelayCertificateRequestRow.requested_at)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            refusal = _refusal(row.replica_id, row.host, sessions)
            if refusal is None:
                try:
                    csr = x509.load_pem_x509_csr(row.csr_pem.encode("ascii", errors="replace"))
                    issued = ca.sign_replica_certificate(
                        csr, replica_id=row.replica_id, host=row.host, hours=hours
                    )
                except (ValueError, InputError) as exc:
                    refusal = (
                        exc if isinstance(exc, InputError) else InputError(f"CSR unreadable: {exc}"[:300])
                    )
            row.answered_at = now
            if refusal is not None:
                row.refusal_code, row.refusal = refusal.code, refusal.message[:500]
                log.warning("refused the relay certificate of %s: %s", row.replica_id, refusal.message)
            else:
                row.certificate_pem = issued.pem
                event = ReplicaRelayCertificateIssued(
                    replica_id=row.replica_id,
                    host=row.host,
                    certificate_serial=issued.serial_hex,
                    not_after=issued.not_after,
                    ca_fingerprint_sha256=ca.fingerprint_sha256,
                    issued_by=signing_process(),
                )
                audit(session, event, actor=ISSUER_ACTOR)
            answered += 1
    return answered
