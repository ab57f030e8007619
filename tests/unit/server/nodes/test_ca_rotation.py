"""Rotating the plant CA with real nodes over real TLS on PostgreSQL.

Three server starts on one data_dir and database, as an operator runs them: before the
rotation, during the overlap (``lineguard ca rotate`` then a restart) and after
``lineguard ca retire`` (and a restart). Nodes enrol, renew and connect through the
edge code they run in production (``lineguard.edge.identity``).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from cryptography import x509
from sqlalchemy import Engine

from lineguard.config.server import ServerConfig
from lineguard.contracts.errors import ConflictError, NotFoundError
from lineguard.edge.identity import IdentityStore, enroll, node_ssl_context, renew
from lineguard.server.admin import load_ca, retire_ca, rotate_ca
from lineguard.server.pki import ca_paths, certificate_fingerprint
from lineguard.server.storage import session_factory
from tests.support.node_tls import node_route_status, tls12_node_context
from tests.unit.server.conftest import issue_node_token, plant_with_ca, serving_plant

on_postgresql = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


def _token(settings: ServerConfig, engine: Engine, node_id: str) -> str:
    with session_factory(engine)() as session:
        return issue_node_token(session, load_ca(settings), node_id)


def _issuer(node_dir: Path) -> str:
    return IdentityStore(node_dir).certificate().issuer.rfc4514_string()


def _trusted(node_dir: Path) -> list[str]:
    pem = IdentityStore(node_dir).ca_file.read_bytes()
    return [certificate_fingerprint(c) for c in x509.load_pem_x509_certificates(pem)]


@on_postgresql
def test_nodes_keep_working_through_a_rotation_and_an_old_ca_certificate_is_refused_after(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = plant_with_ca(tmp_path / "server", monkeypatch)
    old_fp = load_ca(settings).fingerprint_sha256
    a, b, c = (tmp_path / name for name in ("node-a", "node-b", "node-c"))

    with serving_plant(settings, engine) as server:  # before: one CA
        url = server.url
        enroll(url, _token(settings, engine, "node-a"), a)
        enroll(url, _token(settings, engine, "node-b"), b)
        assert _trusted(a) == [old_fp]

    rotation = rotate_ca(settings)
    assert rotation.previous_fingerprint == old_fp != rotation.current_fingerprint
    new_fp = rotation.current_fingerprint
    with serving_plant(settings, engine) as server:  # the overlap
        url = server.url
        # enrolled under the old CA, trusting only it: still served and signed in
        for node in (a, b):
            assert node_route_status(url, node_ssl_context(node)) == 400
        # a token made now pins the CA the server still serves with; the node gets a
        # new-CA certificate and keeps both CAs
        enroll(url, _token(settings, engine, "node-c"), c)
        assert _issuer(c) != _issuer(b)  # each CA has its own name (its start time in it)
        assert _issuer(c).startswith("CN=LineGuard plant CA plant-a 20")
        assert _trusted(c) == [new_fp, old_fp]
        assert node_route_status(url, node_ssl_context(c)) == 400
        # node-a renews through the usual path: a new-CA certificate, both CAs trusted
        renew(a, url)  # (this test moves the server to a new port at each start)
        assert _issuer(a) == _issuer(c)
        assert _trusted(a) == [new_fp, old_fp]
        assert node_route_status(url, node_ssl_context(a)) == 400

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

    with serving_plant(settings, engine) as server:  # after: the new CA alone, serving too
        url = server.url
        for node in (a, c):  # renewed or enrolled during the overlap: they trust the new server certificate
            assert node_route_status(url, node_ssl_context(node)) == 400
        # node-b's old-CA certificate is refused by the TLS layer itself: give it a
        # client that trusts the new server certificate, so only the server's check is left
        # over TLS 1.2, so the server's verdict ends the handshake itself: a connect error,
        # where a refusal by the database (its certificate is also marked revoked) would be an HTTP 401
        trust = ca_paths(settings.data_dir).trust
        with pytest.raises(httpx.ConnectError):
            node_route_status(url, tls12_node_context(trust, IdentityStore(b).credentials_file))
        assert node_route_status(url, tls12_node_context(trust, IdentityStore(a).credentials_file)) == 400
        # and node-b, trusting only the retired CA, cannot even verify the server
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            node_route_status(url, node_ssl_context(b))
