"""The issuer role: a host that is not a CA issuer starts without the passphrase, never
needs ``ca.key.pem``, signs nothing itself, and refuses to start when given the passphrase."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from lineguard.config.server import ServerConfig
from lineguard.contracts.certificates import IssuerUnavailableError
from lineguard.contracts.errors import ConfigError, InputError, LineGuardError
from lineguard.edge.identity import IdentityStore, enroll
from lineguard.server.admin import run_server
from lineguard.server.app import create_app
from lineguard.server.nodes.models import EnrollmentToken
from lineguard.server.pki import ISSUER_ENV, PlantCa, ca_paths, is_issuer, start_ca_rotation
from lineguard.server.protection import NoEncryption
from lineguard.server.storage import create_engine_for, session_factory
from lineguard.server.tls import ServerThread
from tests.unit.server.conftest import CA_PASSPHRASE, AuditTrail, issue_node_token, make_plant_ca

API = "/api/v1"


@pytest.mark.parametrize(
    ("value", "issuer"),
    [(None, True), ("", True), ("true", True), ("YES", True), ("1", True), ("false", False), (" no ", False)],
)
def test_the_role_comes_from_the_environment_and_unset_is_an_issuer(value: str | None, issuer: bool) -> None:
    assert is_issuer({} if value is None else {ISSUER_ENV: value}) is issuer


def test_a_role_that_is_neither_true_nor_false_is_refused_by_name() -> None:
    with pytest.raises(InputError, match=r"LINEGUARD_PKI_ISSUER is 'maybe': expected true, false"):
        is_issuer({ISSUER_ENV: "maybe"})


def _without_key(data_dir: Path) -> None:
    """Take the CA key off this host, as on a non-issuer replica (the certificates stay)."""
    ca_paths(data_dir).key.unlink()


def test_a_public_ca_needs_no_key_follows_a_rotation_and_signs_nothing(tmp_path: Path) -> None:
    make_plant_ca(tmp_path)
    _without_key(tmp_path)
    public = PlantCa.load_public(tmp_path)
    assert not public.can_sign
    assert len(public.trusted) == 1 and public.serving == public.certificate
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    )
    with pytest.raises(IssuerUnavailableError, match="not a plant CA issuer"):
        public.issue_node_certificate(csr, node_id="node-a", days=1)
    with pytest.raises(IssuerUnavailableError):
        public.issue_replica_certificate(replica_id="rep-a", host="127.0.0.1")
    with pytest.raises(IssuerUnavailableError):
        public.issue_server_certificate(tmp_path, names=["127.0.0.1"])


def test_a_rotation_is_followed_by_a_public_ca(tmp_path: Path) -> None:
    before = make_plant_ca(tmp_path)
    start_ca_rotation(tmp_path, CA_PASSPHRASE, site_id="plant-a")  # on the issuer host
    ca_paths(tmp_path).key.unlink()
    ca_paths(tmp_path).previous_key.unlink()
    public = PlantCa.load_public(tmp_path)
    assert public.previous is not None
    assert public.previous.subject == before.certificate.subject
    assert public.serving == public.previous  # the server certificate is still the old CA's


def test_a_non_issuer_host_given_the_passphrase_refuses_to_start_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = ServerConfig(kind="server", site_id="plant-a", data_dir=tmp_path / "server")
    make_plant_ca(settings.data_dir)
    monkeypatch.setenv(ISSUER_ENV, "false")
    monkeypatch.setenv("LINEGUARD_CA_PASSPHRASE", CA_PASSPHRASE.get_secret_value())
    with pytest.raises(
        ConfigError, match=r"not a CA issuer .* passphrase is present .*LINEGUARD_CA_PASSPHRASE"
    ):
        run_server(settings)
    assert not (settings.data_dir / "lineguard.db").exists()  # refused before the database was opened


def test_a_non_issuer_refuses_to_start_on_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = ServerConfig(kind="server", site_id="plant-a", data_dir=tmp_path / "server")
    make_plant_ca(settings.data_dir)
    _without_key(settings.data_dir)
    app = create_app(settings, sealer=NoEncryption(), audit=AuditTrail(), pki_issuer=False)
    with (
        pytest.raises(ConfigError, match="LINEGUARD_PKI_ISSUER=false needs a CA issuer replica"),
        TestClient(app),
    ):
        pass


@pytest.fixture
def non_issuer(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[ServerThread, Engine, AuditTrail]]:
    """A non-issuer process on PostgreSQL (real TLS), its host without the CA key or passphrase."""
    monkeypatch.delenv("LINEGUARD_CA_PASSPHRASE", raising=False)
    settings = ServerConfig(kind="server", site_id="plant-a", data_dir=tmp_path / "server")
    make_plant_ca(settings.data_dir)
    _without_key(settings.data_dir)
    engine = create_engine_for(postgres_url)
    audit = AuditTrail()
    app = create_app(settings, engine=engine, sealer=NoEncryption(), audit=audit, pki_issuer=False)
    paths = ca_paths(settings.data_dir)
    try:
        with ServerThread(
            app, cert_file=paths.server_cert, key_file=paths.server_key, ca_file=paths.trust
        ) as server:
            yield server, engine, audit
    finally:
        engine.dispose()


def test_enrollment_on_a_non_issuer_with_no_issuer_is_503_and_the_token_stays_unused(
    non_issuer: tuple[ServerThread, Engine, AuditTrail], tmp_path: Path
) -> None:
    server, engine, audit = non_issuer
    public = PlantCa.load_public(tmp_path / "server")
    with session_factory(engine)() as session:
        token = issue_node_token(session, public, "node-a", audit=audit)
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(key, hashes.SHA256())
    with httpx.Client(verify=False, timeout=30) as client:
        assert client.get(f"{server.url}{API}/enroll/ca").status_code == 200  # serves the CA without its key
        refused = client.post(
            f"{server.url}{API}/enroll",
            json={"token": token, "csr_pem": csr.public_bytes(Encoding.PEM).decode()},
        )
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "ca_issuer_unavailable"
    assert int(refused.headers["Retry-After"]) >= 1
    with pytest.raises(
        LineGuardError, match=r"cannot sign .* reaches no issuer"
    ) as caught:  # the node's client
        enroll(server.url, token, tmp_path / "node")
    assert caught.value.http_status == 503
    assert not IdentityStore(tmp_path / "node").enrolled
    with session_factory(engine)() as session:
        row = session.get(EnrollmentToken, token.split(".")[1])
        assert row is not None and row.used_at is None  # nothing used up: the node tries again later
    assert "node.enrolled" not in audit.names()
