"""A plant CA rotation and retirement followed by two running replicas, without a restart.

Two real ``lineguard server`` processes (one ``data_dir``, one PostgreSQL, ``http.replicas:
2``, so each runs the internal mutual-TLS relay) are started once. The test rotates and
then retires the CA with the functions ``lineguard ca rotate`` / ``retire`` run, and checks
through real TLS that both processes follow: a node enrolled during the overlap (new-CA
certificate) is served by the replica that did not issue it; a new-CA relay certificate is
accepted by both relay listeners; each replica moves its own relay certificate to the new
CA; after the retirement both serve a new-CA server certificate and refuse an old-CA node
certificate and an old-CA relay certificate in the handshake. The processes' ids are the
same at the end: nothing was restarted.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from sqlalchemy import select
from tests.support.node_tls import node_route_status, tls12_node_context
from tests.support.replicas import running_replicas
from tests.support.waiting import until
from tests.unit.server.conftest import issue_node_token

from lineguard.config.server import ServerConfig
from lineguard.contracts.errors import ContractError
from lineguard.contracts.evidence_view import EvidenceRelayError
from lineguard.edge.identity import IdentityStore, enroll, node_ssl_context, renew
from lineguard.server.admin import load_ca, retire_ca, rotate_ca
from lineguard.server.evidence_views.models import RelayPeerRow
from lineguard.server.evidence_views.peers import PeerClient, RelayTls
from lineguard.server.pki import ReplicaCredentials, ca_paths
from lineguard.server.storage import open_engine, session_factory

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

ENV = {
    "LINEGUARD_CA_PASSPHRASE": "live rotation ca passphrase",
    "LINEGUARD_KEYRING_PASSPHRASE": "live rotation keyring passphrase",
}
#: The replicas look at ca/ every 2 s and switch relay certificates 10 s after a rotation.
DEADLINE_S = 45.0


def _eventually(what: str, check: Callable[[], bool]) -> None:
    until(check, DEADLINE_S, what=what, every_s=0.25)


def _passes(url: str, verify: ssl.SSLContext) -> bool:
    try:
        return node_route_status(url, verify) == 400
    except httpx.TransportError:  # refused in the handshake (TLS 1.3: seen as a closed connection)
        return False


def _served_issuer(url: str) -> str:
    host, port = url.removeprefix("https://").split(":")
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection((host, int(port)), timeout=10) as raw, ctx.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).issuer.rfc4514_string()


def _relay_accepts(credentials: ReplicaCredentials, trust: Path, where: tuple[str, int]) -> bool:
    """A relay request with ``credentials``: the owner's typed answer means the handshake passed."""
    try:
        PeerClient(RelayTls(credentials, trust), timeout_s=10).call(*where, {"op": "probe"})
    except ContractError:  # "unknown relay operation": authenticated and admitted
        return True
    except EvidenceRelayError:  # the handshake failed
        return False
    return True


def _relay_issuer(credentials: ReplicaCredentials, trust: Path, where: tuple[str, int]) -> str:
    tls = RelayTls(credentials, trust)
    with (
        socket.create_connection(where, timeout=10) as raw,
        tls.client.wrap_socket(raw, server_hostname=where[0]) as conn,
    ):
        der = conn.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).issuer.rfc4514_string()


@pytest.fixture
def two_replicas(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[ServerConfig, list[str], list[int]]]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with running_replicas(tmp_path, postgres_url, ENV) as replicas:
        pids = [p.pid for p in replicas.processes]
        yield replicas.settings, replicas.urls, pids
        for process, log in zip(replicas.processes, replicas.logs, strict=True):
            assert process.poll() is None, log.read_text()[-3000:]  # the same processes served the whole test
        assert [p.pid for p in replicas.processes] == pids
    logs = " ".join(log.read_text() for log in replicas.logs)
    assert logs.count("plant CA re-read") >= 4, logs[-3000:]  # each replica: rotation and retirement


def test_two_running_replicas_follow_a_ca_rotation_and_retirement(
    two_replicas: tuple[ServerConfig, list[str], list[int]], tmp_path: Path
) -> None:
    settings, (url_a, url_b), _ = two_replicas
    engine = open_engine(settings)
    sessions = session_factory(engine)

    def token(node_id: str) -> str:
        with sessions() as session:
            return issue_node_token(session, load_ca(settings), node_id)

    with sessions() as session:
        relays = {r.replica_id: (r.host, r.port) for r in session.scalars(select(RelayPeerRow))}
    assert len(relays) == 2, relays
    a, b, c = (tmp_path / name for name in ("node-a", "node-b", "node-c"))
    enroll(url_a, token("node-a"), a)
    enroll(url_b, token("node-b"), b)
    old_issuer = IdentityStore(a).certificate().issuer.rfc4514_string()
    old_relay = load_ca(settings).issue_replica_certificate(replica_id="probe-old", host="127.0.0.1")
    trust = ca_paths(settings.data_dir).trust
    for where in relays.values():
        assert _relay_issuer(old_relay, trust, where) == old_issuer

    rotate_ca(settings)  # -- the overlap, no restart --------------------------------------
    new_ca = load_ca(settings)
    new_issuer = new_ca.certificate.subject.rfc4514_string()
    # node-c enrols on B during the overlap: B issues from the new CA (it looks before issuing)
    enroll(url_b, token("node-c"), c)
    assert IdentityStore(c).certificate().issuer.rfc4514_string() == new_issuer
    # A never issued anything new-CA, yet its listener takes node-c's certificate
    _eventually("replica A trusts the new CA", lambda: _passes(url_a, node_ssl_context(c)))
    for url in (url_a, url_b):  # and the nodes enrolled before the rotation still connect
        assert node_route_status(url, node_ssl_context(b)) == 400
        assert _served_issuer(url) == old_issuer  # pinned nodes keep verifying the server
    renew(a, url_a)  # node-a moves to the new CA through A
    assert IdentityStore(a).certificate().issuer.rfc4514_string() == new_issuer
    # its next request presents the renewed certificate, which retires its old-CA one (until
    # then that stays accepted, in case the answer was lost, and `ca retire` names node-a)
    assert node_route_status(url_b, node_ssl_context(a)) == 400
    new_relay = new_ca.issue_replica_certificate(replica_id="probe-new", host="127.0.0.1")
    for name, where in relays.items():  # relay listeners: the new CA trusted, the old one still
        _eventually(f"{name}'s relay trusts the new CA", lambda w=where: _relay_accepts(new_relay, trust, w))
        assert _relay_accepts(old_relay, trust, where)
        # each replica moves its own relay certificate to the new CA, with no restart
        _eventually(
            f"{name} presents a new-CA relay certificate",
            lambda w=where: _relay_issuer(new_relay, trust, w) == new_issuer,
        )

    with sessions() as session:  # -- retirement, no restart ---------------------------------
        retired = retire_ca(settings, session, force=True)  # node-b never renewed
        session.commit()
    assert retired.stranded_nodes == ["node-b"]
    trust = ca_paths(settings.data_dir).trust
    for url in (url_a, url_b):
        _eventually(f"{url} serves a new-CA certificate", lambda u=url: _served_issuer(u) == new_issuer)
        for node in (a, c):  # they kept both CAs: they verify the new server certificate
            assert node_route_status(url, node_ssl_context(node)) == 400
        # node-b's old-CA certificate is refused in the handshake by a process that was
        # running before the retirement (a refusal by the database would be an HTTP 401)
        with pytest.raises(httpx.ConnectError):
            node_route_status(url, tls12_node_context(trust, IdentityStore(b).credentials_file))
        control = tls12_node_context(trust, IdentityStore(a).credentials_file)
        assert node_route_status(url, control) == 400
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            node_route_status(url, node_ssl_context(b))  # and it cannot verify the server any more
    for name, where in relays.items():
        _eventually(
            f"{name}'s relay refuses the retired CA", lambda w=where: not _relay_accepts(old_relay, trust, w)
        )
        assert _relay_accepts(new_relay, trust, where)
        assert _relay_issuer(new_relay, trust, where) == new_issuer
    engine.dispose()
