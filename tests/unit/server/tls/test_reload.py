"""``ReloadingContext``: a listener follows its certificate and trust files, over real TLS.

An echo listener on asyncio's own loop (uvicorn's, and the integration test
``tests/integration/test_ca_rotation_live.py`` runs two real server processes) with the
front context; clients with node certificates of the old and the new plant CA.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr

from lineguard.edge.identity import IdentityStore
from lineguard.server.pki import PlantCa, ca_paths, retire_previous_ca, start_ca_rotation
from lineguard.server.pki.files import write_replacing
from lineguard.server.tls import server_ssl_context
from lineguard.server.tls.reload import ReloadingContext

PASSPHRASE = SecretStr("reload test passphrase")


@dataclass
class Listener:
    port: int
    reloading: ReloadingContext
    data_dir: Path


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    data_dir = tmp_path / "server"
    ca = PlantCa.create(data_dir, PASSPHRASE, site_id="plant-a")
    ca.issue_server_certificate(data_dir, names=["127.0.0.1"])
    paths = ca_paths(data_dir)

    def build() -> ssl.SSLContext:
        return server_ssl_context(cert_file=paths.server_cert, key_file=paths.server_key, ca_file=paths.trust)

    reloading = ReloadingContext(
        build, (paths.server_cert, paths.server_key, paths.trust), check_interval_s=0
    )

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ssl_object = writer.get_extra_info("ssl_object")
        verified = ssl_object.getpeercert(binary_form=True) is not None
        while line := await reader.readline():
            writer.write((b"client-cert " if verified else b"anonymous ") + line)
            await writer.drain()
        writer.close()

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(asyncio.start_server(echo, "127.0.0.1", 0, ssl=reloading.front))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield Listener(server.sockets[0].getsockname()[1], reloading, data_dir)
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def _node(ca: PlantCa, where: Path, node_id: str) -> Path:
    store = IdentityStore(where / node_id)
    csr = x509.load_pem_x509_csr(store.csr_pem(key := store.generate_key(), node_id).encode())
    issued = ca.issue_node_certificate(csr, node_id=node_id, days=7)
    path = where / f"{node_id}.pem"
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_bytes(pem + issued.pem.encode())
    return path


def _client(trust: Path, credentials: Path | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=trust)
    if credentials is not None:
        ctx.load_cert_chain(credentials)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # the server's verdict on the client ends the handshake
    return ctx


def _ask(port: int, ctx: ssl.SSLContext) -> tuple[bytes, str]:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(b"ping\n")
        answer = tls.recv(100)
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return answer, x509.load_der_x509_certificate(der).issuer.rfc4514_string()


def test_new_handshakes_follow_a_rotation_and_a_retirement_and_an_open_connection_keeps_working(
    listener: Listener, tmp_path: Path
) -> None:
    paths = ca_paths(listener.data_dir)
    old = PlantCa.load(listener.data_dir, PASSPHRASE)
    old_trust = tmp_path / "old-trust.pem"
    old_trust.write_bytes(paths.trust.read_bytes())
    old_node = _node(old, tmp_path, "old-node")
    assert _ask(listener.port, _client(old_trust, old_node)) == (
        b"client-cert ping\n",
        old.certificate.subject.rfc4514_string(),
    )

    start_ca_rotation(listener.data_dir, PASSPHRASE, site_id="plant-a")
    new = PlantCa.load(listener.data_dir, PASSPHRASE)
    new_node = _node(new, tmp_path, "new-node")
    # the listener was made before the new CA existed, and takes its certificates now
    assert _ask(listener.port, _client(paths.trust, new_node))[0] == b"client-cert ping\n"
    assert _ask(listener.port, _client(old_trust, old_node))[0] == b"client-cert ping\n"

    # a connection opened during the overlap with the old CA's certificate ...
    raw = socket.create_connection(("127.0.0.1", listener.port), timeout=10)
    open_conn = _client(paths.trust, old_node).wrap_socket(raw, server_hostname="127.0.0.1")
    open_conn.sendall(b"first\n")
    assert open_conn.recv(100) == b"client-cert first\n"

    retire_previous_ca(listener.data_dir, PASSPHRASE, server_names=["127.0.0.1"])
    # ... is not dropped by the retirement
    open_conn.sendall(b"second\n")
    assert open_conn.recv(100) == b"client-cert second\n"
    open_conn.close()
    # new handshakes: the new CA's server certificate, the old CA's client certificate refused
    answer, issuer = _ask(listener.port, _client(paths.trust, new_node))
    assert (answer, issuer) == (b"client-cert ping\n", new.certificate.subject.rfc4514_string())
    with pytest.raises(ssl.SSLError):
        _ask(listener.port, _client(paths.trust, old_node))
    with pytest.raises(ssl.SSLCertVerificationError):  # and a client trusting only the old CA
        _ask(listener.port, _client(old_trust, None))
    assert listener.reloading.reloads >= 2


def test_a_key_that_does_not_match_its_certificate_keeps_the_current_pair_until_it_does(
    listener: Listener, tmp_path: Path
) -> None:
    paths = ca_paths(listener.data_dir)
    served = paths.server_cert.read_bytes()
    stray = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_replacing(paths.server_key, stray)  # as between the two renames of a re-issue
    ca = PlantCa.load(listener.data_dir, PASSPHRASE)
    assert _ask(listener.port, _client(paths.trust, None))[0] == b"anonymous ping\n"  # still served
    assert listener.reloading.reloads == 0
    ca.issue_server_certificate(listener.data_dir, names=["127.0.0.1"])  # the pair whole again
    assert _ask(listener.port, _client(paths.trust, None))[0] == b"anonymous ping\n"
    assert listener.reloading.reloads == 1
    assert paths.server_cert.read_bytes() != served


def test_no_tls13_session_ticket_outlives_a_change_of_trust(listener: Listener, tmp_path: Path) -> None:
    paths = ca_paths(listener.data_dir)
    node = _node(PlantCa.load(listener.data_dir, PASSPHRASE), tmp_path, "n1")
    ctx = ssl.create_default_context(cafile=paths.trust)
    ctx.load_cert_chain(node)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    for _ in range(2):
        with (
            socket.create_connection(("127.0.0.1", listener.port), timeout=10) as raw,
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            tls.sendall(b"x\n")
            tls.recv(100)
            session, reused = tls.session, tls.session_reused
    assert reused is False
    with (
        socket.create_connection(("127.0.0.1", listener.port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=session) as tls,
    ):
        tls.sendall(b"x\n")
        tls.recv(100)
        assert tls.session_reused is False
