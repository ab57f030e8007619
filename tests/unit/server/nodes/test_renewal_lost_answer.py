"""Renewal survives a lost answer, and proves the node asked (on an issuer the node reaches directly).

Real HTTPS + mTLS on SQLite and PostgreSQL (the ``plant`` fixture). The lost answer is the
node's real state after one: its certificate unchanged, the renewal key waiting on disk
(``tests/support/lost_renewal.py``). The forwarded path is in ``test_forward.py``.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from lineguard.contracts.audit import NodeCertificateRenewed, NodeCertificateSuperseded
from lineguard.contracts.errors import AuthenticationError
from lineguard.edge.identity import IdentityStore, enroll, https_client, renew
from lineguard.server.nodes import authenticate_certificate
from lineguard.server.nodes.renewal import retire_lapsed_certificates
from tests.support.lost_renewal import renew_and_lose_the_answer
from tests.unit.server.conftest import AuditTrail, Plant

API = "/api/v1"


def _events(trail: AuditTrail, name: str) -> list[dict[str, Any]]:
    return [fields for event, fields in trail.events if event == name]


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _authenticated(data: Path) -> bool:
    """Whether the server takes the node's certificate (a junk CSR is a 400 once authenticated)."""
    with https_client(data) as client:
        status = client.post(f"{API}/nodes/renew", json={"csr_pem": "x"}).status_code
    assert status in {400, 401}, status
    return status == 400


def _holding(data: Path, cert_pem: str, into: Path) -> Path:
    """A copy of the node's identity holding ``cert_pem`` with the key it was issued for."""
    store = IdentityStore(data)
    (into / "identity").mkdir(parents=True)
    for name in ("ca.crt.pem", "identity.json"):
        (into / "identity" / name).write_bytes((store.directory / name).read_bytes())
    key_pem = store.credentials_file.read_text()
    (into / "identity" / "node.pem").write_text(key_pem[: key_pem.index("-----BEGIN CERTIFICATE")] + cert_pem)
    return into


def test_a_renewal_whose_answer_was_lost_gets_the_same_certificate_and_the_old_one_works_meanwhile(
    plant: Plant, tmp_path: Path
) -> None:
    data = tmp_path / "a"
    enroll(plant.url, plant.token("node-a"), data)
    old = IdentityStore(data).certificate()
    old_copy = _holding(data, _pem(old), tmp_path / "old-a")
    lost = renew_and_lose_the_answer(data)
    assert lost.serial_number != old.serial_number
    assert _authenticated(data)  # not locked out: the old certificate is still accepted

    renew(data)  # the node's retry, with the key it kept
    assert IdentityStore(data).certificate() == lost  # the same certificate, not a second one
    assert not IdentityStore(data).pending_key_file.exists()
    first, again = _events(plant.audit, NodeCertificateRenewed.event_name)
    assert first["certificate_serial"] == again["certificate_serial"] == format(lost.serial_number, "x")
    assert (first["repeated"], again["repeated"]) == (False, True)
    assert first["possession"] == again["possession"] == "request_signature"
    assert _authenticated(old_copy)  # still in grace: the renewed one has not been presented

    assert _authenticated(data)  # its first use ...
    assert not _authenticated(old_copy)  # ... retires the previous one
    (superseded,) = _events(plant.audit, NodeCertificateSuperseded.event_name)
    assert superseded == {
        "outcome": "success",
        "node_id": "node-a",
        "certificate_serial": format(old.serial_number, "x"),
        "superseded_by": format(lost.serial_number, "x"),
        "reason": "renewed_certificate_used",
    }


def test_a_retry_with_another_key_gets_a_new_certificate_and_the_unused_one_is_void(
    plant: Plant, tmp_path: Path
) -> None:
    data = tmp_path / "b"
    enroll(plant.url, plant.token("node-b"), data)
    lost = renew_and_lose_the_answer(data)
    IdentityStore(data).clear_pending_renewal_key()  # the node lost its renewal key too
    renew(data)
    renewed = IdentityStore(data).certificate()
    assert renewed.serial_number != lost.serial_number
    with plant.session() as session, pytest.raises(AuthenticationError, match="superseded or revoked"):
        authenticate_certificate(session, cert_pem=_pem(lost), audit=plant.audit)
    assert _authenticated(data)


def test_the_grace_ends_for_a_node_that_never_presents_its_renewed_certificate(
    plant: Plant, tmp_path: Path
) -> None:
    data = tmp_path / "c"
    enroll(plant.url, plant.token("node-c"), data)
    old = IdentityStore(data).certificate()
    lost = renew_and_lose_the_answer(data)
    with plant.session() as session:
        assert retire_lapsed_certificates(session, audit=plant.audit) == 0  # in grace
        later = datetime.now(UTC) + timedelta(hours=24, minutes=1)  # pki.renewal_grace_hours: 24
        assert retire_lapsed_certificates(session, audit=plant.audit, now=later) == 1
        assert retire_lapsed_certificates(session, audit=plant.audit, now=later) == 0  # once
    (ended,) = _events(plant.audit, NodeCertificateSuperseded.event_name)
    assert ended == {
        "outcome": "success",
        "node_id": "node-c",
        "certificate_serial": format(old.serial_number, "x"),
        "superseded_by": format(lost.serial_number, "x"),
        "reason": "grace_ended",
    }
    assert not _authenticated(data)  # the node is refused: it must enroll again


def _post_renewal(data: Path, proof: str | None) -> tuple[int, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(key, hashes.SHA256())
    body = {"csr_pem": csr.public_bytes(serialization.Encoding.PEM).decode()}
    if proof is not None:
        body["proof"] = proof
    with https_client(data) as client:
        response = client.post(f"{API}/nodes/renew", json=body)
    return response.status_code, response.text


def test_a_proof_that_is_not_the_current_key_s_is_refused_and_changes_nothing(
    plant: Plant, tmp_path: Path
) -> None:
    data = tmp_path / "d"
    enroll(plant.url, plant.token("node-d"), data)
    stranger = ec.generate_private_key(ec.SECP256R1()).sign(b"anything", ec.ECDSA(hashes.SHA256()))
    status, text = _post_renewal(data, base64.b64encode(stranger).decode())
    assert status == 401
    assert "the renewal proof does not verify with the key of certificate" in text
    status, text = _post_renewal(data, "not base64!")
    assert (status, "the renewal proof is not base64" in text) == (401, True)
    assert not _events(plant.audit, NodeCertificateRenewed.event_name)
    assert _authenticated(data)


def test_a_node_without_proof_renews_on_an_issuer_it_reaches_directly(plant: Plant, tmp_path: Path) -> None:
    """A node older than the proof, during an upgrade: its TLS handshake reached the issuer,
    which proves it holds the key, so it is renewed (forwarded, it is refused: test_forward.py)."""
    data = tmp_path / "e"
    enroll(plant.url, plant.token("node-e"), data)
    status, text = _post_renewal(data, None)
    assert status == 200, text
    (renewed,) = _events(plant.audit, NodeCertificateRenewed.event_name)
    assert renewed["possession"] == "tls_handshake"  # so an operator can find the nodes still without it
