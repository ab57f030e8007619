"""Rotating the plant CA with real nodes over real TLS on PostgreSQL.

Three server starts on one data_dir and database, as an operator runs them: before the
rotation, during the overlap (``lineguard ca rotate`` then a restart) and after
``lineguard ca retire`` (and a restart). Nodes enrol, renew and connect through the
edge code they run in production (``lineguard.edge.identity``).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from sqlalchemy import Engine

from lineguard.config.server import ServerConfig
from lineguard.contracts.errors import ConflictError, NotFoundError
from lineguard.edge.identity import IdentityStore, enroll, node_ssl_context, renew
from lineguard.server.admin import ensure_server_certificate, load_ca, retire_ca, rotate_ca
from lineguard.server.app import API_PREFIX, create_app
from lineguard.server.nodes import service
from lineguard.server.pki import ca_paths, certificate_fingerprint
from lineguard.server.protection import NoEncryption
from lineguard.server.storage import session_factory
from lineguard.server.tls import ServerThread
from tests.unit.server.conftest import CA_PASSPHRASE, AuditTrail, make_plant_ca

on_postgresql = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


@contextmanager
def _serving(settings: ServerConfig, engine: Engine) -> Iterator[str]:
    """One start of the server as ``lineguard server`` does it: CA loaded, client CAs from trust.pem."""
    ca = load_ca(settings)
    paths, _ = ensure_server_certificate(settings, ca)
    app = create_app(settings, engine=engine, sealer=NoEncryption(), audit=AuditTrail(), ca=ca)
    with ServerThread(
        app, cert_file=paths.server_cert, key_file=paths.server_key, ca_file=paths.trust
    ) as server:
        yield server.url


def _token(settings: ServerConfig, engine: Engine, node_id: str) -> str:
    with session_factory(engine)() as session:
        token = service.issue_token(
            session,
            ca=load_ca(settings),
            node_id=node_id,
            site_id="plant-a",
            line_id="line-1",
            camera_ids=["cam-1"],
            ttl=timedelta(minutes=10),
            created_by="cli:test",
            audit=AuditTrail(),
        )
    return str(token)


def _node_call(url: str, verify: ssl.SSLContext) -> int:
    """A node-only route: 400 (the CSR is nonsense) proves TLS and certificate sign-in passed."""
    with httpx.Client(base_url=url, verify=verify, timeout=10) as client:
        return client.post(f"{API_PREFIX}/nodes/renew", json={"csr_pem": "-----BEGIN nothing"}).status_code


def _issuer(node_dir: Path) -> str:
    return IdentityStore(node_dir).certificate().issuer.rfc4514_string()


def _trusted(node_dir: Path) -> list[str]:
    pem = IdentityStore(node_dir).ca_file.read_bytes()
    return [certificate_fingerprint(c) for c in x509.load_pem_x509_certificates(pem)]


@on_postgresql
def test_nodes_keep_working_through_a_rotation_and_an_old_ca_certificate_is_refused_after(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINEGUARD_CA_PASSPHRASE", CA_PASSPHRASE.get_secret_value())
    settings = ServerConfig.model_validate(
        {
            "kind": "server",
            "site_id": "plant-a",
            "data_dir": tmp_path / "server",
            "pki": {"server_names": ["127.0.0.1", "localhost"]},
        }
    )
    first = make_plant_ca(settings.data_dir)
    old_fp = first.fingerprint_sha256
    a, b, c = (tmp_path / name for name in ("node-a", "node-b", "node-c"))

    with _serving(settings, engine) as url:  # before: one CA
        enroll(url, _token(settings, engine, "node-a"), a)
        enroll(url, _token(settings, engine, "node-b"), b)
        assert _trusted(a) == [old_fp]

    rotation = rotate_ca(settings)
    assert rotation.previous_fingerprint == old_fp != rotation.current_fingerprint
    new_fp = rotation.current_fingerprint
    with _serving(settings, engine) as url:  # the overlap
        # enrolled under the old CA, trusting only it: still served and signed in
        for node in (a, b):
            assert _node_call(url, node_ssl_context(node)) == 400
        # a token made now pins the CA the server still serves with; the node gets a
        # new-CA certificate and keeps both CAs
        enroll(url, _token(settings, engine, "node-c"), c)
        assert _issuer(c) != _issuer(b)  # each CA has its own name (its start time in it)
        assert _issuer(c).startswith("CN=LineGuard plant CA plant-a 20")
        assert _trusted(c) == [new_fp, old_fp]
        assert _node_call(url, node_ssl_context(c)) == 400
        # node-a renews through the usual path: a new-CA certificate, both CAs trusted
        renew(a, url)  # (this test moves the server to a new port at each start)
        assert _issuer(a) == _issuer(c)
        assert _trusted(a) == [new_fp, old_fp]
        assert _node_call(url, node_ssl_context(a)) == 400

    with session_factory(engine)() as session:  # node-b never renewed: retiring would strand it
        with pytest.raises(ConflictError, match=r"1 active node\(s\) still hold .*: node-b\. Let them renew"):
            retire_ca(settings, session, force=False)
        session.rollback()
    assert ca_paths(settings.data_dir).previous_cert.exists()  # refused: nothing moved
    with session_factory(engine)() as session:
        retired = retire_ca(settings, session, force=True)
        session.commit()
    assert (retired.fingerprint_sha256, retired.current_fingerprint_sha256) == (old_fp, new_fp)
    assert (retired.stranded_nodes, retired.certificates_revoked) == (["node-b"], 1)
    with session_factory(engine)() as session, pytest.raises(NotFoundError, match="no CA rotation"):
        retire_ca(settings, session)

    with _serving(settings, engine) as url:  # after: the new CA alone, serving too
        for node in (a, c):  # renewed or enrolled during the overlap: they trust the new server certificate
            assert _node_call(url, node_ssl_context(node)) == 400
        # node-b's old-CA certificate is refused by the TLS layer itself: give it a
        # client that trusts the new server certificate, so only the server's check is left
        refused = ssl.create_default_context(cafile=ca_paths(settings.data_dir).trust)
        refused.load_cert_chain(IdentityStore(b).credentials_file)
        # TLS 1.2, so the server's verdict ends the handshake itself (a TLS 1.3 client
        # finishes first and sees a closed connection): a connect error, where a refusal
        # by the database (its certificate is also marked revoked) would be an HTTP 401
        refused.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(httpx.ConnectError):
            _node_call(url, refused)
        control = ssl.create_default_context(cafile=ca_paths(settings.data_dir).trust)
        control.load_cert_chain(IdentityStore(a).credentials_file)
        control.maximum_version = ssl.TLSVersion.TLSv1_2
        assert _node_call(url, control) == 400
        # and node-b, trusting only the retired CA, cannot even verify the server
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            _node_call(url, node_ssl_context(b))
