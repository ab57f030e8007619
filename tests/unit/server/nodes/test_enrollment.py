"""Enrollment, renewal and revocation over real HTTPS + mTLS."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import httpx
import pytest

from lineguard.contracts.audit import NodeCertificateRenewed, audit_event_class
from lineguard.contracts.errors import AuthenticationError, InputError, IntegrityError
from lineguard.edge.identity import IdentityStore, enroll, https_client, renew
from tests.unit.server.conftest import Plant

API = "/api/v1"


def test_enroll_issues_a_certificate_for_a_key_that_never_left_the_node(plant: Plant, tmp_path: Path) -> None:
    info = enroll(plant.url, plant.token("node-a", cameras=("cam-1", "cam-2")), tmp_path / "a")
    assert (info.node_id, info.line_id, info.camera_ids) == ("node-a", "line-1", ["cam-1", "cam-2"])
    store = IdentityStore(tmp_path / "a")
    assert stat.S_IMODE(store.credentials_file.stat().st_mode) == 0o600
    assert store.certificate().public_key() == store.load_key().public_key()
    assert store.certificate().subject.rfc4514_string().startswith("CN=node-a,")
    assert "node.enrolled" in plant.audit.names()
    assert "node.enrollment_token_issued" in plant.audit.names()


def test_a_token_works_once(plant: Plant, tmp_path: Path) -> None:
    token = plant.token("node-b")
    enroll(plant.url, token, tmp_path / "b1")
    with pytest.raises(AuthenticationError, match="already used"):
        enroll(plant.url, token, tmp_path / "b2")
    assert not IdentityStore(tmp_path / "b2").enrolled


def test_an_expired_token_is_refused(plant: Plant, tmp_path: Path) -> None:
    token = plant.token("node-c", ttl_s=-1)
    with pytest.raises(AuthenticationError, match="expired"):
        enroll(plant.url, token, tmp_path / "c")


def test_a_forged_secret_is_refused(plant: Plant, tmp_path: Path) -> None:
    prefix, token_id, secret, ca_hash = plant.token("node-d").split(".")
    forged = ".".join([prefix, token_id, ("A" if secret[0] != "A" else "B") + secret[1:], ca_hash])
    with pytest.raises(AuthenticationError, match="unknown enrollment token"):
        enroll(plant.url, forged, tmp_path / "d")
    assert "access.denied" in plant.audit.names()


def test_the_node_refuses_a_server_whose_ca_does_not_match_the_token(plant: Plant, tmp_path: Path) -> None:
    prefix, token_id, secret, _ = plant.token("node-e").split(".")
    with pytest.raises(IntegrityError, match="the enrollment token expects"):
        enroll(plant.url, ".".join([prefix, token_id, secret, "0" * 64]), tmp_path / "e")


def test_malformed_token_is_an_input_error(plant: Plant, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="malformed enrollment token"):
        enroll(plant.url, "not-a-token", tmp_path / "f")


def test_renewal_replaces_key_and_certificate_and_retires_the_old_one(plant: Plant, tmp_path: Path) -> None:
    data = tmp_path / "g"
    enroll(plant.url, plant.token("node-g"), data)
    old_pem = IdentityStore(data).credentials_file.read_bytes()
    old_serial = IdentityStore(data).certificate().serial_number
    renew(data)
    assert IdentityStore(data).certificate().serial_number != old_serial
    with https_client(data) as client:  # the new certificate works
        assert client.post(f"{API}/nodes/renew", json={"csr_pem": "x"}).status_code == 400
    old = tmp_path / "old"
    (old / "identity").mkdir(parents=True)
    for name in ("ca.crt.pem", "identity.json"):
        (old / "identity" / name).write_bytes((data / "identity" / name).read_bytes())
    (old / "identity" / "node.pem").write_bytes(old_pem)
    with https_client(old) as client:  # the superseded one does not
        response = client.post(f"{API}/nodes/renew", json={"csr_pem": "x"})
    assert response.status_code == 401
    assert "superseded or revoked" in response.json()["message"]


def test_a_renewal_is_audited_as_the_typed_event_the_docs_describe(plant: Plant, tmp_path: Path) -> None:
    data = tmp_path / "r"
    enroll(plant.url, plant.token("node-r"), data)
    old_serial = IdentityStore(data).certificate().serial_number
    renew(data)
    new_serial = IdentityStore(data).certificate().serial_number
    renewals = [
        (actor, fields)
        for (name, fields), actor in zip(plant.audit.events, plant.audit.actors, strict=True)
        if name == "node.certificate_renewed"
    ]
    assert len(renewals) == 1
    actor, fields = renewals[0]
    assert actor == "node:node-r"
    # What the real recorder does with these fields: build the typed event (extra fields refused).
    event = audit_event_class("node.certificate_renewed")(**fields)
    assert isinstance(event, NodeCertificateRenewed)
    assert event.node_id == "node-r"
    assert int(event.certificate_serial, 16) == new_serial != old_serial
    # Who signed: the CA and the server process (with the CA key on every replica, any may sign).
    assert event.ca_fingerprint_sha256 == plant.ca.fingerprint_sha256
    assert event.issued_by == f"{socket.gethostname()}:{os.getpid()}"  # the in-process test server
    enrolled = next(f for n, f in plant.audit.events if n == "node.enrolled")
    assert (enrolled["ca_fingerprint_sha256"], enrolled["issued_by"]) == (
        event.ca_fingerprint_sha256,
        event.issued_by,
    )


def test_revocation_takes_effect_on_the_next_request_of_an_open_connection(
    plant: Plant, tmp_path: Path
) -> None:
    data = tmp_path / "h"
    enroll(plant.url, plant.token("node-h"), data)
    with https_client(data) as client:
        assert client.post(f"{API}/nodes/renew", json={"csr_pem": "x"}).status_code == 400  # authenticated
        plant.revoke("node-h")
        response = client.post(f"{API}/nodes/renew", json={"csr_pem": "x"})
    assert response.status_code == 401
    assert response.json()["message"] == "node node-h was revoked"
    assert "node.revoked" in plant.audit.names()


def test_node_routes_require_a_client_certificate(plant: Plant, tmp_path: Path) -> None:
    data = tmp_path / "i"
    enroll(plant.url, plant.token("node-i"), data)
    from lineguard.edge.identity import node_ssl_context

    with httpx.Client(base_url=plant.url, verify=node_ssl_context(data, with_client_cert=False)) as client:
        assert client.get(f"{API}/enroll/ca").status_code == 200  # public
        response = client.post(f"{API}/nodes/renew", json={"csr_pem": "x"})
    assert response.status_code == 401
    assert "client certificate" in response.json()["message"]


def test_a_certificate_from_another_ca_fails_the_handshake(plant: Plant, tmp_path: Path) -> None:
    from tests.unit.server.conftest import make_plant_ca

    other = make_plant_ca(tmp_path / "other-plant")
    data = tmp_path / "j"
    enroll(plant.url, plant.token("node-j"), data)
    # A certificate for the same node id, signed by a CA the server does not trust.
    store = IdentityStore(data)
    key = store.load_key()
    from cryptography import x509

    forged = other.issue_node_certificate(
        x509.load_pem_x509_csr(store.csr_pem(key, "node-j").encode()), node_id="node-j", days=1
    )
    store.save(key=key, cert_pem=forged.pem, ca_pem=store.ca_file.read_text())
    with https_client(data) as client, pytest.raises(httpx.HTTPError):
        client.post(f"{API}/nodes/renew", json={"csr_pem": "x"})
