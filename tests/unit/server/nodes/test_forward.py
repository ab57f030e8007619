"""A replica without the CA key forwards enrollments and renewals to the issuer over the relay.

Real TLS everywhere, on PostgreSQL: the non-issuer is a running server (uvicorn, mTLS)
whose data directory holds the CA certificates but no key, and no passphrase is set; the
issuer answers on a real relay listener (``PeerServer`` with the app's own
``answer_peer``). The non-issuer's relay certificate is minted here by the test's CA,
standing in for the issuer-signed one of ``server/evidence_views/relay_certs.py``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import Engine, update

from lineguard.config.server import ServerConfig
from lineguard.contracts.audit import AccessDenied, AuditEvent, NodeCertificateRenewed, NodeEnrolled
from lineguard.contracts.certificates import IssuerUnavailableError, renewal_proof_message
from lineguard.contracts.errors import AuthenticationError, LineGuardError
from lineguard.edge.identity import IdentityStore, enroll, https_client, renew
from lineguard.server.app import create_app
from lineguard.server.context import ServerContext
from lineguard.server.evidence_views.handoff import answer_peer
from lineguard.server.evidence_views.models import RelayPeerRow
from lineguard.server.evidence_views.peers import PeerClient, PeerServer, RelayTls
from lineguard.server.evidence_views.shared import HEARTBEAT_S, SharedRelay
from lineguard.server.nodes import service as node_service
from lineguard.server.nodes.models import EnrollmentToken
from lineguard.server.nodes.schemas import ForwardedEnrollment, ForwardedRenewal
from lineguard.server.pki import PlantCa, ca_paths
from lineguard.server.protection import NoEncryption
from lineguard.server.storage import create_engine_for, session_factory, upgrade_to_head
from lineguard.server.tls import ServerThread
from tests.support.lost_renewal import renew_and_lose_the_answer
from tests.unit.server.conftest import AuditTrail, issue_node_token, make_plant_ca

API = "/api/v1"


@dataclass
class Cluster:
    ca: PlantCa
    engine: Engine
    issuer: ServerContext
    issuer_audit: AuditTrail
    issuer_relay: PeerServer | None
    issuer_tls: RelayTls
    non_issuer: ServerThread
    non_issuer_context: ServerContext
    non_issuer_audit: AuditTrail
    trust: Path
    issuer_port: int = 0
    #: The role the issuer's heartbeats register (a test may make it a standby).
    issuer_role: str = "leader"
    _beating: tuple[threading.Event, threading.Thread] | None = None

    def token(self, node_id: str) -> str:
        with session_factory(self.engine)() as session:
            return issue_node_token(session, self.ca, node_id, audit=self.issuer_audit)

    def start_issuer(self) -> None:
        shared = SharedRelay(self.issuer.sessions, replica_id="rep-issuer")
        server = PeerServer(self.issuer_tls, partial(answer_peer, self.issuer, shared))
        # the same port when started again: a process's registered address does not change
        self.issuer_port = asyncio.run(server.start("127.0.0.1", self.issuer_port))
        shared.heartbeat("127.0.0.1", self.issuer_port, ca_role=self.issuer_role)
        self.issuer_relay = server
        # beat as a running issuer does: a row older than STALE_S (12 s) is no issuer, and a
        # test under load may take longer than that
        stop = threading.Event()
        beating = threading.Thread(target=self._beat, args=(shared, stop), name="issuer-heartbeat")
        beating.start()
        self._beating = (stop, beating)

    def _beat(self, shared: SharedRelay, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_S):
            shared.heartbeat("127.0.0.1", self.issuer_port, ca_role=self.issuer_role)

    def stop_issuer(self) -> None:
        """The issuer process is gone but its heartbeat row is still fresh: it is dialled and fails."""
        if self._beating is not None:
            stop, beating = self._beating
            stop.set()
            beating.join(timeout=60)  # a beat in flight ends before the engine is disposed
            self._beating = None
        if self.issuer_relay is not None:
            asyncio.run(self.issuer_relay.stop())
            self.issuer_relay = None

    def token_used(self, token_text: str) -> bool:
        with session_factory(self.engine)() as session:
            row = session.get(EnrollmentToken, token_text.split(".")[1])
            assert row is not None
            return row.used_at is not None


def _events(trail: AuditTrail, kind: type[AuditEvent]) -> list[dict[str, Any]]:
    return [fields for name, fields in trail.events if name == kind.event_name]


def _app(data_dir: Path, engine: Engine, audit: AuditTrail, *, ca: PlantCa | None = None) -> FastAPI:
    """A server process's app; an issuer when handed the CA with its key."""
    settings = ServerConfig(kind="server", site_id="plant-a", data_dir=data_dir)
    return create_app(
        settings, engine=engine, sealer=NoEncryption(), audit=audit, ca=ca, pki_issuer=ca is not None
    )


@pytest.fixture
def cluster(tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    monkeypatch.delenv("LINEGUARD_CA_PASSPHRASE", raising=False)  # neither process reads it here
    issuer_dir, non_issuer_dir = tmp_path / "issuer", tmp_path / "non-issuer"
    ca = make_plant_ca(issuer_dir)
    # the non-issuer host: the CA certificates and the server's TLS pair, never the CA key
    shutil.copytree(ca_paths(issuer_dir).directory, ca_paths(non_issuer_dir).directory)
    ca_paths(non_issuer_dir).key.unlink()
    engine = create_engine_for(postgres_url)
    upgrade_to_head(engine)
    issuer_audit, non_issuer_audit = AuditTrail(), AuditTrail()
    issuer_app = _app(issuer_dir, engine, issuer_audit, ca=ca)
    non_issuer_app = _app(non_issuer_dir, engine, non_issuer_audit)
    trust = ca_paths(issuer_dir).trust
    paths = ca_paths(non_issuer_dir)
    with ServerThread(
        non_issuer_app, cert_file=paths.server_cert, key_file=paths.server_key, ca_file=paths.trust
    ) as server:
        context: ServerContext = non_issuer_app.state.lineguard
        assert not context.ca.issuer
        context.evidence_views.shared = SharedRelay(context.sessions, replica_id="rep-b")
        context.evidence_views.peers = PeerClient(
            RelayTls(ca.issue_replica_certificate(replica_id="rep-b", host="127.0.0.1"), trust)
        )
        cluster = Cluster(
            ca,
            engine,
            issuer_app.state.lineguard,
            issuer_audit,
            None,
            RelayTls(ca.issue_replica_certificate(replica_id="rep-issuer", host="127.0.0.1"), trust),
            server,
            context,
            non_issuer_audit,
            trust,
        )
        cluster.start_issuer()
        try:
            yield cluster
        finally:
            cluster.stop_issuer()
    engine.dispose()


def test_a_node_enrolls_and_renews_through_a_non_issuer_and_the_issuer_names_it(
    cluster: Cluster, tmp_path: Path
) -> None:
    data = tmp_path / "node-a"
    info = enroll(cluster.non_issuer.url, cluster.token("node-a"), data)
    assert info.node_id == "node-a"
    first = IdentityStore(data).certificate()
    first.verify_directly_issued_by(cluster.ca.certificate)
    (enrolled,) = _events(cluster.issuer_audit, NodeEnrolled)
    assert enrolled["requested_by"] == "rep-b"  # from the forwarder's relay certificate
    assert enrolled["certificate_serial"] == format(first.serial_number, "x")
    assert not _events(cluster.non_issuer_audit, NodeEnrolled)  # the non-issuer signed nothing

    renew(data)
    second = IdentityStore(data).certificate()
    assert second.serial_number != first.serial_number
    (renewed,) = _events(cluster.issuer_audit, NodeCertificateRenewed)
    assert (renewed["node_id"], renewed["requested_by"]) == ("node-a", "rep-b")
    with https_client(data) as client:  # the renewed certificate works on the non-issuer too
        assert client.post(f"{API}/nodes/renew", json={"csr_pem": "x"}).status_code == 400


def test_with_no_issuer_reachable_enrollment_is_503_and_the_same_token_works_later(
    cluster: Cluster, tmp_path: Path
) -> None:
    token = cluster.token("node-b")
    cluster.stop_issuer()
    with pytest.raises(LineGuardError, match="no plant CA issuer could sign") as caught:
        enroll(cluster.non_issuer.url, token, tmp_path / "b")
    assert caught.value.http_status == 503
    assert not cluster.token_used(token)
    assert not IdentityStore(tmp_path / "b").enrolled

    cluster.start_issuer()  # an issuer back: the node's retry with the same token succeeds
    assert enroll(cluster.non_issuer.url, token, tmp_path / "b").node_id == "node-b"
    assert cluster.token_used(token)


def test_with_no_issuer_reachable_a_renewal_is_503_and_the_node_keeps_its_certificate(
    cluster: Cluster, tmp_path: Path
) -> None:
    data = tmp_path / "c"
    enroll(cluster.non_issuer.url, cluster.token("node-c"), data)
    before = IdentityStore(data).certificate().serial_number
    cluster.stop_issuer()
    with https_client(data) as client:
        key = ec.generate_private_key(ec.SECP256R1())
        csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(key, hashes.SHA256())
        response = client.post(
            f"{API}/nodes/renew", json={"csr_pem": csr.public_bytes(Encoding.PEM).decode()}
        )
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "ca_issuer_unavailable"
        assert int(response.headers["Retry-After"]) >= 1
        # still authenticated with the certificate it has: a junk CSR is the CSR's error, not 401
        assert client.post(f"{API}/nodes/renew", json={"csr_pem": "x"}).status_code == 400
    assert IdentityStore(data).certificate().serial_number == before
    cluster.start_issuer()
    renew(data)
    assert IdentityStore(data).certificate().serial_number != before


def test_refusals_are_checked_on_the_non_issuer_and_again_on_the_issuer(
    cluster: Cluster, tmp_path: Path
) -> None:
    token = cluster.token("node-d")
    enroll(cluster.non_issuer.url, token, tmp_path / "d1")
    with pytest.raises(AuthenticationError, match="already used"):  # refused before forwarding
        enroll(cluster.non_issuer.url, token, tmp_path / "d2")
    assert any(str(e["reason"]).startswith("enrollment token") for e in _denied(cluster.non_issuer_audit))


def _denied(trail: AuditTrail) -> list[dict[str, Any]]:
    return _events(trail, AccessDenied)


def _forwarder(cluster: Cluster, replica_id: str = "rep-evil") -> PeerClient:
    """A replica's relay client talking to the issuer directly: what a compromised non-issuer holds."""
    return PeerClient(
        RelayTls(cluster.ca.issue_replica_certificate(replica_id=replica_id, host="127.0.0.1"), cluster.trust)
    )


def _issuer_port(cluster: Cluster) -> int:
    assert cluster.issuer_relay is not None
    return cluster.issuer_relay.port


def test_the_issuer_trusts_no_forwarded_claim(cluster: Cluster, tmp_path: Path) -> None:
    """A compromised non-issuer asking directly: a used token, a revoked node's certificate and a
    forged certificate are each refused by the issuer's own checks against the database."""
    data = tmp_path / "e"
    token = cluster.token("node-e")
    enroll(cluster.non_issuer.url, token, data)
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(key, hashes.SHA256())
    csr_pem = csr.public_bytes(Encoding.PEM).decode()
    client, port = _forwarder(cluster), _issuer_port(cluster)

    replay = ForwardedEnrollment(token=token, csr_pem=csr_pem).model_dump_json().encode()
    with pytest.raises(AuthenticationError, match="already used"):
        client.call("127.0.0.1", port, {"op": "pki.enroll"}, replay)

    presented = IdentityStore(data).credentials_file.read_text()
    cert_pem = presented[presented.index("-----BEGIN CERTIFICATE") :]
    with session_factory(cluster.engine)() as session:
        node_service.revoke(
            session, node_id="node-e", reason="test", actor="user:t", audit=cluster.issuer_audit
        )
    revoked = ForwardedRenewal(certificate_pem=cert_pem, csr_pem=csr_pem).model_dump_json().encode()
    with pytest.raises(AuthenticationError, match="node node-e was revoked"):
        client.call("127.0.0.1", port, {"op": "pki.renew"}, revoked)

    other_ca = PlantCa.create(
        tmp_path / "other",
        SecretStr("another plant's CA passphrase, for a forged certificate"),
        site_id="plant-x",
    )
    forged = other_ca.issue_node_certificate(csr, node_id="node-e", days=1).pem
    with pytest.raises(AuthenticationError, match="was not issued to any enrolled node"):
        client.call(
            "127.0.0.1",
            port,
            {"op": "pki.renew"},
            ForwardedRenewal(certificate_pem=forged, csr_pem=csr_pem).model_dump_json().encode(),
        )
    assert not _events(cluster.issuer_audit, NodeCertificateRenewed)


def test_a_non_issuer_answers_no_signing_request_itself(cluster: Cluster) -> None:
    """Forwarded to a process that holds no key (its row says it is an issuer, stale): 503, so
    the forwarder moves on; and a non-issuer's row is never a forwarding target."""
    context = cluster.non_issuer_context
    shared = SharedRelay(context.sessions, replica_id="rep-c")
    server = PeerServer(cluster.issuer_tls, partial(answer_peer, context, shared))
    port = asyncio.run(server.start("127.0.0.1", 0))
    try:
        with pytest.raises(IssuerUnavailableError, match="not a plant CA issuer"):
            _forwarder(cluster).call("127.0.0.1", port, {"op": "pki.enroll"}, b"{}")
        shared.heartbeat("127.0.0.1", port, ca_role="none")
        assert [p.replica_id for p in SharedRelay(context.sessions, replica_id="rep-z").issuers()] == [
            "rep-issuer"
        ]
    finally:
        asyncio.run(server.stop())


def test_an_unreachable_leader_is_skipped_for_a_standby_issuer(cluster: Cluster, tmp_path: Path) -> None:
    SharedRelay(cluster.issuer.sessions, replica_id="rep-gone").heartbeat("127.0.0.1", 9, ca_role="leader")
    cluster.issuer_role = "issuer"  # its next heartbeats say so too
    with session_factory(cluster.engine).begin() as session:  # the live issuer is the standby now
        session.execute(
            update(RelayPeerRow).where(RelayPeerRow.replica_id == "rep-issuer").values(ca_role="issuer")
        )
    assert enroll(cluster.non_issuer.url, cluster.token("node-f"), tmp_path / "f").node_id == "node-f"
    (enrolled,) = _events(cluster.issuer_audit, NodeEnrolled)
    assert enrolled["requested_by"] == "rep-b"


def test_a_lost_forwarded_answer_is_answered_again_with_the_same_certificate(
    cluster: Cluster, tmp_path: Path
) -> None:
    """The issuer signed, the answer never reached the node (the forwarder died, the
    connection dropped): the node's retry through the non-issuer gets the same certificate."""
    data = tmp_path / "g"
    enroll(cluster.non_issuer.url, cluster.token("node-g"), data)
    lost = renew_and_lose_the_answer(data)
    renew(data)
    assert IdentityStore(data).certificate() == lost
    first, again = _events(cluster.issuer_audit, NodeCertificateRenewed)
    assert (first["repeated"], again["repeated"]) == (False, True)
    assert again["requested_by"] == "rep-b"
    assert first["possession"] == again["possession"] == "request_signature"  # checked by the issuer
    assert first["certificate_serial"] == again["certificate_serial"] == format(lost.serial_number, "x")


def _stranger_csr() -> tuple[ec.EllipticCurvePrivateKey, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(key, hashes.SHA256())
    return key, csr.public_bytes(Encoding.PEM).decode()


def test_a_forwarded_renewal_without_proof_is_refused_with_what_to_do(
    cluster: Cluster, tmp_path: Path
) -> None:
    """A node older than the proof of possession, reaching a non-issuer: refused, the node keeps
    its certificate (the issuer cannot tell it from a replica that saw the certificate)."""
    data = tmp_path / "h"
    enroll(cluster.non_issuer.url, cluster.token("node-h"), data)
    with https_client(data) as client:
        response = client.post(f"{API}/nodes/renew", json={"csr_pem": _stranger_csr()[1]})
        assert response.status_code == 401
        assert "carries no proof of possession" in response.json()["message"]
        assert "Upgrade the node" in response.json()["message"]
        assert client.post(f"{API}/nodes/renew", json={"csr_pem": "x"}).status_code == 400  # still in
    assert not _events(cluster.issuer_audit, NodeCertificateRenewed)


def test_a_replica_that_saw_a_node_s_certificate_cannot_renew_it(cluster: Cluster, tmp_path: Path) -> None:
    """A compromised non-issuer holds the node's certificate (it terminated its TLS) but not its
    key: asking the issuer for a certificate for a key of its own is refused, with or without a
    proof signed by that key."""
    data = tmp_path / "i"
    enroll(cluster.non_issuer.url, cluster.token("node-i"), data)
    cert_pem = IdentityStore(data).certificate().public_bytes(Encoding.PEM).decode()
    key, csr_pem = _stranger_csr()
    client, port = _forwarder(cluster), _issuer_port(cluster)
    unproven = ForwardedRenewal(certificate_pem=cert_pem, csr_pem=csr_pem)
    with pytest.raises(AuthenticationError, match="carries no proof of possession"):
        client.call("127.0.0.1", port, {"op": "pki.renew"}, unproven.model_dump_json().encode())
    csr_der = x509.load_pem_x509_csr(csr_pem.encode()).public_bytes(Encoding.DER)
    fingerprint = hashlib.sha256(IdentityStore(data).certificate().public_bytes(Encoding.DER)).hexdigest()
    own_proof = key.sign(renewal_proof_message(fingerprint, csr_der), ec.ECDSA(hashes.SHA256()))
    forged = ForwardedRenewal(
        certificate_pem=cert_pem, csr_pem=csr_pem, proof=base64.b64encode(own_proof).decode()
    )
    with pytest.raises(AuthenticationError, match="does not verify with the key of certificate"):
        client.call("127.0.0.1", port, {"op": "pki.renew"}, forged.model_dump_json().encode())
    assert not _events(cluster.issuer_audit, NodeCertificateRenewed)
