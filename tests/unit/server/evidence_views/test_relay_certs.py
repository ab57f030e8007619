"""Relay certificates asked of the issuer through PostgreSQL by a replica that holds no CA key.

The requester's side holds only the CA certificates (``PlantCa.load_public``); the
issuer's side the key. Each answer is checked by the requester before use, and the
issuer refuses a revoked replica, a malformed id or address, and a CSR that does not
verify; each issued certificate is audited.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from pydantic import SecretStr
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from lineguard.contracts.certificates import IssuerUnavailableError
from lineguard.contracts.errors import InputError, IntegrityError
from lineguard.contracts.evidence_view import ReplicaRevokedError
from lineguard.server.evidence_views.models import RelayCertificateRequestRow
from lineguard.server.evidence_views.peers import PeerClient, PeerServer, RelayTls, Request
from lineguard.server.evidence_views.relay_certs import (
    RelayCertificateRequest,
    answer_relay_certificate_requests,
)
from lineguard.server.evidence_views.revocation import revoke_replica
from lineguard.server.pki import PlantCa, ca_paths
from lineguard.server.storage import create_engine_for, session_factory, upgrade_to_head
from tests.unit.server.conftest import AuditTrail, make_plant_ca


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine_for(postgres_url)
    upgrade_to_head(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def issuer_ca(tmp_path: Path) -> PlantCa:
    return make_plant_ca(tmp_path / "ca")


def _answer(sessions: sessionmaker[Session], ca: PlantCa, audit: AuditTrail | None = None) -> int:
    return answer_relay_certificate_requests(sessions, ca, hours=24, audit=audit or AuditTrail())


def test_a_replica_without_the_key_gets_a_relay_certificate_that_the_relay_takes(
    sessions: sessionmaker[Session], issuer_ca: PlantCa, tmp_path: Path
) -> None:
    public = PlantCa.load_public(tmp_path / "ca")  # the requester holds no key
    request = RelayCertificateRequest(sessions, "rep-b.w1", "127.0.0.1")
    request.submit()
    assert request.collect(public) is None  # not answered yet
    audit = AuditTrail()
    assert _answer(sessions, issuer_ca, audit) == 1
    credentials = request.collect(public)
    assert credentials is not None
    cert = x509.load_pem_x509_certificate(credentials.cert_pem)
    cert.verify_directly_issued_by(issuer_ca.certificate)
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "rep-b.w1"
    ((name, fields),) = audit.events
    assert name == "replica.relay_certificate_issued"
    assert (fields["replica_id"], fields["host"]) == ("rep-b.w1", "127.0.0.1")
    assert fields["certificate_serial"] == format(cert.serial_number, "x")
    with sessions() as session:  # read once, then gone
        assert session.scalars(select(RelayCertificateRequestRow)).all() == []

    # the relay accepts it, both ways, against the plant CA (real TLS)
    trust = ca_paths(tmp_path / "ca").trust

    async def echo(req: Request) -> tuple[dict[str, str], bytes]:
        return {"peer": req.peer_id}, b""

    issuer_tls = RelayTls(issuer_ca.issue_replica_certificate(replica_id="rep-a", host="127.0.0.1"), trust)
    server = PeerServer(issuer_tls, echo)
    port = asyncio.run(server.start("127.0.0.1", 0))
    try:
        answer, _ = PeerClient(RelayTls(credentials, trust)).call("127.0.0.1", port, {"op": "probe"})
        assert answer["peer"] == "rep-b.w1"
    finally:
        asyncio.run(server.stop())


def test_a_revoked_replica_malformed_ids_and_addresses_are_refused_and_nothing_is_audited(
    sessions: sessionmaker[Session], issuer_ca: PlantCa
) -> None:
    with sessions() as session:
        revoke_replica(
            session,
            replica_id="rep-gone",
            reason="host decommissioned",
            actor="user:t",
            audit=AuditTrail(),
            not_running=True,
        )
    revoked = RelayCertificateRequest(sessions, "rep-gone.w0", "127.0.0.1")
    bad_id = RelayCertificateRequest(sessions, "Rep Bad", "127.0.0.1")
    wildcard = RelayCertificateRequest(sessions, "rep-c", "0.0.0.0")
    for request in (revoked, bad_id, wildcard):
        request.submit()
    audit = AuditTrail()
    assert _answer(sessions, issuer_ca, audit) == 3
    assert audit.events == []
    with pytest.raises(ReplicaRevokedError, match="host decommissioned"):
        revoked.collect(issuer_ca)
    with pytest.raises(InputError, match="is not a replica process id"):
        bad_id.collect(issuer_ca)
    with pytest.raises(InputError, match="is not a host name or address to dial"):
        wildcard.collect(issuer_ca)


def test_a_csr_that_does_not_verify_is_refused(sessions: sessionmaker[Session], issuer_ca: PlantCa) -> None:
    request = RelayCertificateRequest(sessions, "rep-d", "127.0.0.1")
    request.submit()
    other = ec.generate_private_key(ec.SECP384R1())  # not P-256
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(other, hashes.SHA256())
    with sessions.begin() as session:
        session.execute(
            update(RelayCertificateRequestRow)
            .where(RelayCertificateRequestRow.request_id == request.request_id)
            .values(csr_pem=csr.public_bytes(Encoding.PEM).decode())
        )
    _answer(sessions, issuer_ca)
    with pytest.raises(InputError, match="replica key must be EC P-256"):
        request.collect(issuer_ca)


def test_an_answer_for_another_key_or_from_another_ca_is_not_used(
    sessions: sessionmaker[Session], issuer_ca: PlantCa, tmp_path: Path
) -> None:
    """What reads the answer checks it: a row rewritten by someone else with the database password."""
    stranger = PlantCa.create(tmp_path / "other", SecretStr("another CA's passphrase here"), site_id="x")
    for forged_by, expected in (
        (issuer_ca, "holds another key"),
        (stranger, "not by a plant CA trusted now"),
    ):
        request = RelayCertificateRequest(sessions, "rep-e", "127.0.0.1")
        request.submit()
        if forged_by is stranger:  # the requester's own key, signed by a CA this plant does not trust
            with sessions() as session:
                row = session.get(RelayCertificateRequestRow, request.request_id)
                assert row is not None
                csr = x509.load_pem_x509_csr(row.csr_pem.encode())
            pem = stranger.sign_replica_certificate(csr, replica_id="rep-e", host="127.0.0.1", hours=1).pem
        else:  # a valid certificate of the plant CA, for a key the requester does not hold
            credentials = issuer_ca.issue_replica_certificate(replica_id="rep-e", host="127.0.0.1")
            pem = credentials.cert_pem.decode()
        with sessions.begin() as session:
            session.execute(
                update(RelayCertificateRequestRow)
                .where(RelayCertificateRequestRow.request_id == request.request_id)
                .values(certificate_pem=pem, answered_at=RelayCertificateRequestRow.requested_at)
            )
        with pytest.raises(IntegrityError, match=expected):
            request.collect(issuer_ca)


def test_a_withdrawn_request_is_gone_and_collecting_it_says_so(
    sessions: sessionmaker[Session], issuer_ca: PlantCa
) -> None:
    request = RelayCertificateRequest(sessions, "rep-f", "127.0.0.1")
    request.submit()
    request.withdraw()
    assert _answer(sessions, issuer_ca) == 0
    with pytest.raises(IssuerUnavailableError, match="is gone"):
        request.collect(issuer_ca)
