"""The internal relay's TLS and framing, on real sockets: a listener on loopback, a client, the plant CA.

The handler here only echoes, so these tests are about the transport: both ends must
present replica certificates, the dialled host name must match, sizes are bounded,
and renewed credentials are used from the next connection on. What the owner does
with a request is tested against PostgreSQL (test_shared_relay.py and
tests/integration/test_evidence_relay_replicas.py).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr

from lineguard.contracts.errors import PayloadTooLargeError, PermissionDeniedError, RateLimitedError
from lineguard.contracts.evidence_view import MAX_EVIDENCE_JPEG_BYTES, EvidenceRelayError, ReplicaRevokedError
from lineguard.server.evidence_views.peers import PeerClient, PeerServer, RefusalReason, RelayTls, Request
from lineguard.server.pki import PlantCa, ReplicaCredentials, ca_paths, retire_previous_ca, start_ca_rotation


@dataclass
class Relay:
    ca: PlantCa
    ca_file: Path
    loop: asyncio.AbstractEventLoop
    tmp: Path
    servers: list[PeerServer] = field(default_factory=list)

    def listen(self, credentials: ReplicaCredentials) -> int:
        async def echo(request: Request) -> tuple[dict[str, Any], bytes]:
            return {"peer": request.peer_id, "op": request.op, "size": len(request.body)}, request.body[::-1]

        server = PeerServer(RelayTls(credentials, self.ca_file), echo)
        self.servers.append(server)
        return asyncio.run_coroutine_threadsafe(server.start("127.0.0.1", 0), self.loop).result(30)

    def client(self, replica_id: str) -> PeerClient:
        credentials = self.ca.issue_replica_certificate(replica_id=replica_id, host="127.0.0.1")
        return PeerClient(RelayTls(credentials, self.ca_file), timeout_s=10)


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[Relay]:
    ca = PlantCa.create(tmp_path, SecretStr("relay transport test passphrase"), site_id="plant-a")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    relay = Relay(ca, ca_paths(tmp_path).cert, loop, tmp_path)

    async def shut_down() -> None:
        """Close the listeners and finish their connection tasks before the loop stops
        (a task garbage-collected later, pending, would log from inside whatever runs then)."""
        for server in relay.servers:
            await server.stop()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    try:
        yield relay
    finally:
        asyncio.run_coroutine_threadsafe(shut_down(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_a_request_and_its_answer_pass_between_two_replicas(relay: Relay) -> None:
    port = relay.listen(relay.ca.issue_replica_certificate(replica_id="rep_owner", host="127.0.0.1"))
    body = bytes(range(256)) * 4096  # 1 MiB
    answer, data = relay.client("rep_sender").call("127.0.0.1", port, {"op": "deliver"}, body)
    assert answer == {"ok": True, "peer": "rep_sender", "op": "deliver", "size": len(body)}
    assert data == body[::-1]


def test_renewed_credentials_are_presented_from_the_next_connection(relay: Relay) -> None:
    port = relay.listen(relay.ca.issue_replica_certificate(replica_id="rep_owner", host="127.0.0.1"))
    credentials = relay.ca.issue_replica_certificate(replica_id="rep_before", host="127.0.0.1")
    tls = RelayTls(credentials, relay.ca_file)
    client = PeerClient(tls, timeout_s=10)
    assert client.call("127.0.0.1", port, {"op": "take"})[0]["peer"] == "rep_before"
    tls.renew(relay.ca.issue_replica_certificate(replica_id="rep_after", host="127.0.0.1"))
    assert client.call("127.0.0.1", port, {"op": "take"})[0]["peer"] == "rep_after"


def test_the_client_refuses_a_listener_without_a_replica_certificate(relay: Relay) -> None:
    relay.ca.issue_server_certificate(relay.tmp, names=["127.0.0.1"])  # the HTTPS server's profile
    paths = ca_paths(relay.tmp)
    port = relay.listen(ReplicaCredentials(paths.server_key.read_bytes(), paths.server_cert.read_bytes()))
    with pytest.raises(EvidenceRelayError, match="takes only LineGuard replica certificates"):
        relay.client("rep_sender").call("127.0.0.1", port, {"op": "take"})


def test_the_client_refuses_a_listener_whose_certificate_names_another_host(relay: Relay) -> None:
    port = relay.listen(relay.ca.issue_replica_certificate(replica_id="rep_owner", host="10.9.9.9"))
    with pytest.raises(
        EvidenceRelayError, match=r"127\.0\.0\.1:\d+ could not be reached.*(hostname|IP address)"
    ):
        relay.client("rep_sender").call("127.0.0.1", port, {"op": "take"})


def test_a_header_over_4_kib_is_refused(relay: Relay) -> None:
    port = relay.listen(relay.ca.issue_replica_certificate(replica_id="rep_owner", host="127.0.0.1"))
    with pytest.raises(PayloadTooLargeError, match=r"relay header of 5[0-9]{3} bytes"):
        relay.client("rep_sender").call("127.0.0.1", port, {"op": "take", "pad": "x" * 5000})


def test_requests_beyond_the_connection_bound_are_refused_unread(relay: Relay) -> None:
    """Two hand-offs in flight fill a listener bounded at 2; a third is told to retry, and
    once one finishes the next gets through (memory: at most 2 bodies of 8 MiB in flight)."""
    release = threading.Event()

    async def slow(request: Request) -> tuple[dict[str, Any], bytes]:
        await asyncio.to_thread(release.wait, 30)
        return {"size": len(request.body)}, b""

    credentials = relay.ca.issue_replica_certificate(replica_id="rep_owner", host="127.0.0.1")
    server = PeerServer(RelayTls(credentials, relay.ca_file), slow, max_connections=2)
    relay.servers.append(server)
    port = asyncio.run_coroutine_threadsafe(server.start("127.0.0.1", 0), relay.loop).result(30)
    client = relay.client("rep_sender")
    answers: list[int] = []
    callers = [
        threading.Thread(
            target=lambda: answers.append(client.call("127.0.0.1", port, {"op": "deliver"}, b"x")[0]["size"])
        )
        for _ in range(2)
    ]
    for caller in callers:
        caller.start()
    deadline = time.monotonic() + 30
    while server._active < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    with pytest.raises(RateLimitedError, match="answering 2 relay requests already"):
        # A body at the limit: more than the socket buffers hold, so the sender is still
        # writing when the refusal comes. Closing on its unread body reset the connection
        # before it could read the refusal ("could not be reached", once in CI); the
        # listener drains a refused body, so the sender reads why, as for a small one.
        client.call("127.0.0.1", port, {"op": "deliver"}, b"y" * MAX_EVIDENCE_JPEG_BYTES)
    release.set()
    for caller in callers:
        caller.join(30)
    assert answers == [1, 1]
    assert client.call("127.0.0.1", port, {"op": "deliver"}, b"zz")[0]["size"] == 2


def test_a_long_running_pair_renews_its_certificates_before_they_end(relay: Relay) -> None:
    """Certificates of 12 s, renewed when 9 s are left (the heartbeat loop renews 24 h ones
    when 12 h are left): hand-offs keep working past the first certificates' end, while a
    client that never renews is refused once its certificate has ended.

    The margin is what one turn of the loop below may take before a certificate it has not
    yet renewed ends under it. It was 2 s (certificates of 4 s), and a turn is a handshake
    and a 0.5 s sleep: at load ~30 a turn can take longer than 2 s (the worker's process
    stood still for seconds at a time, docs/testing.md), and the owner's certificate would
    end before the test renewed it. 9 s holds that; expiry itself stays real (OpenSSL's).
    """
    lifetime_h, margin = 12 / 3600, timedelta(seconds=9)

    def issue(replica_id: str) -> ReplicaCredentials:
        return relay.ca.issue_replica_certificate(replica_id=replica_id, host="127.0.0.1", hours=lifetime_h)

    async def echo(request: Request) -> tuple[dict[str, Any], bytes]:
        return {"peer": request.peer_id}, b""

    owner_tls = RelayTls(issue("rep_owner"), relay.ca_file)
    server = PeerServer(owner_tls, echo)
    relay.servers.append(server)
    port = asyncio.run_coroutine_threadsafe(server.start("127.0.0.1", 0), relay.loop).result(30)
    sender_tls = RelayTls(issue("rep_sender"), relay.ca_file)
    stale_tls = RelayTls(issue("rep_stale"), relay.ca_file)
    sender, stale = PeerClient(sender_tls, timeout_s=10), PeerClient(stale_tls)
    # Certificate times are whole seconds: the stale one may end a second after the others.
    first_end, renewals = max(owner_tls.not_after, stale_tls.not_after), 0
    # Until past the first certificates and eight renewals (each side renews every ~3 s),
    # however slowly the loop turns.
    deadline = time.monotonic() + 120
    while renewals < 8 or datetime.now(UTC) <= first_end + timedelta(seconds=2):
        assert time.monotonic() < deadline, f"{renewals} renewals in 120 s"
        for tls, name in ((owner_tls, "rep_owner"), (sender_tls, "rep_sender")):
            if tls.expires_within(margin):
                tls.renew(issue(name))
                renewals += 1
        assert sender.call("127.0.0.1", port, {"op": "take"})[0]["peer"] == "rep_sender"
        time.sleep(0.5)
    with pytest.raises(EvidenceRelayError, match="could not be reached"):
        stale.call("127.0.0.1", port, {"op": "take"})


def _node_credentials(ca: PlantCa) -> ReplicaCredentials:
    """A node certificate of the same plant CA (clientAuth, the node profile), with its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "edge-1")]))
        .sign(key, hashes.SHA256())
    )
    issued = ca.issue_node_certificate(csr, node_id="edge-1", days=1)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ReplicaCredentials(key_pem, issued.pem.encode())


def _answer_without_a_certificate(ca_file: Path, port: int) -> bytes:
    """What the listener answers a TLS client that verifies it but presents no certificate."""
    anonymous = ssl.create_default_context(cafile=str(ca_file))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        anonymous.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        try:  # TLS 1.3: the client's handshake ends first, the listener's refusal comes after
            tls.sendall(b"\0\0\0\2{}\0\0\0\0")
            return tls.recv(64)
        except (ssl.SSLError, ConnectionError):
            return b""


def test_every_refused_connection_is_told_with_its_source_reason_and_what_it_presented(relay: Relay) -> None:
    """A client without a certificate and one of another CA fail the handshake; a node's
    certificate is not a replica's; a revoked replica id is refused by ``admit``. Each is
    told to ``refused`` and the client gets the typed error; a good replica passes."""
    told: list[tuple[str, str, str]] = []

    async def echo(request: Request) -> tuple[dict[str, Any], bytes]:
        return {"peer": request.peer_id}, b""

    async def admit(peer_id: str) -> None:
        if peer_id == "rep_revoked":
            msg = f"server replica {peer_id} was revoked"
            raise ReplicaRevokedError(msg)

    def refused(source: str, reason: RefusalReason, presented: str) -> None:
        told.append((source, reason, presented))

    owner = relay.ca.issue_replica_certificate(replica_id="rep_owner", host="127.0.0.1")
    server = PeerServer(RelayTls(owner, relay.ca_file), echo, admit=admit, refused=refused)
    relay.servers.append(server)
    port = asyncio.run_coroutine_threadsafe(server.start("127.0.0.1", 0), relay.loop).result(30)

    assert _answer_without_a_certificate(relay.ca_file, port) == b""
    stranger = PlantCa.create(relay.tmp / "other", SecretStr("another plant's passphrase"), site_id="other")
    foreign = stranger.issue_replica_certificate(replica_id="rep_foreign", host="127.0.0.1")
    with pytest.raises(EvidenceRelayError, match="could not be reached"):
        PeerClient(RelayTls(foreign, relay.ca_file), timeout_s=10).call("127.0.0.1", port, {"op": "take"})
    as_node = PeerClient(RelayTls(_node_credentials(relay.ca), relay.ca_file), timeout_s=10)
    with pytest.raises(PermissionDeniedError, match="takes only LineGuard replica certificates"):
        as_node.call("127.0.0.1", port, {"op": "take"})
    with pytest.raises(ReplicaRevokedError, match="rep_revoked was revoked"):
        relay.client("rep_revoked").call("127.0.0.1", port, {"op": "take"})
    assert relay.client("rep_good").call("127.0.0.1", port, {"op": "take"})[0]["peer"] == "rep_good"

    deadline = time.monotonic() + 60  # the listener tells a failed handshake once it has seen it end
    while len(told) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    reasons = [(source, reason) for source, reason, _ in told]
    assert sorted(reasons) == sorted(
        [
            ("127.0.0.1", "handshake_failed"),
            ("127.0.0.1", "handshake_failed"),
            ("127.0.0.1", "not_a_replica"),
            ("127.0.0.1", "revoked"),
        ]
    )
    presented = {reason: what for _, reason, what in told if reason != "handshake_failed"}
    assert "O=LineGuard node" in presented["not_a_replica"] and "CN=edge-1" in presented["not_a_replica"]
    assert presented["revoked"] == "rep_revoked"
    handshakes = " ".join(what for _, reason, what in told if reason == "handshake_failed")
    assert "CERTIFICATE" in handshakes.upper()  # OpenSSL's reason: no certificate, or one it cannot verify


def test_replicas_on_either_ca_talk_during_a_rotation_and_an_old_ca_one_is_refused_after(
    relay: Relay,
) -> None:
    """``lineguard ca rotate``: a replica restarted since (new-CA certificate) and one not
    yet (old-CA certificate) both read trust.pem, so hand-offs pass both ways; after
    ``ca retire`` a listener reading the new trust.pem refuses the old-CA certificate."""
    passphrase = SecretStr("relay transport test passphrase")
    old_credentials = relay.ca.issue_replica_certificate(replica_id="rep_old", host="127.0.0.1")
    start_ca_rotation(relay.tmp, passphrase, site_id="plant-a")
    new_ca = PlantCa.load(relay.tmp, passphrase)
    trust = ca_paths(relay.tmp).trust

    def listen(credentials: ReplicaCredentials, ca_file: Path) -> int:
        async def echo(request: Request) -> tuple[dict[str, Any], bytes]:
            return {"peer": request.peer_id}, b""

        server = PeerServer(RelayTls(credentials, ca_file), echo)
        relay.servers.append(server)
        return asyncio.run_coroutine_threadsafe(server.start("127.0.0.1", 0), relay.loop).result(30)

    def client(credentials: ReplicaCredentials, ca_file: Path) -> PeerClient:
        return PeerClient(RelayTls(credentials, ca_file), timeout_s=10)

    new_port = listen(new_ca.issue_replica_certificate(replica_id="rep_new", host="127.0.0.1"), trust)
    old_port = listen(old_credentials, trust)
    assert client(old_credentials, trust).call("127.0.0.1", new_port, {"op": "take"})[0]["peer"] == "rep_old"
    fresh = new_ca.issue_replica_certificate(replica_id="rep_fresh", host="127.0.0.1")
    assert client(fresh, trust).call("127.0.0.1", old_port, {"op": "take"})[0]["peer"] == "rep_fresh"

    retire_previous_ca(relay.tmp, passphrase, server_names=["127.0.0.1"])
    after = ca_paths(relay.tmp).trust
    after_port = listen(new_ca.issue_replica_certificate(replica_id="rep_after", host="127.0.0.1"), after)
    with pytest.raises(EvidenceRelayError, match="could not be reached"):
        client(old_credentials, trust).call("127.0.0.1", after_port, {"op": "take"})
    assert client(fresh, after).call("127.0.0.1", after_port, {"op": "take"})[0]["peer"] == "rep_fresh"
