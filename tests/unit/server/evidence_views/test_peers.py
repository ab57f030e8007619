"""The internal relay's TLS and framing, on real sockets: a listener on loopback, a client, the plant CA.

The handler here only echoes, so these tests are about the transport: both ends must
present replica certificates, the dialled host name must match, sizes are bounded,
and renewed credentials are used from the next connection on. What the owner does
with a request is tested against PostgreSQL (test_shared_relay.py and
tests/integration/test_evidence_relay_replicas.py).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from lineguard.contracts.errors import PayloadTooLargeError, RateLimitedError
from lineguard.contracts.evidence_view import EvidenceRelayError
from lineguard.server.evidence_views.peers import PeerClient, PeerServer, RelayTls, Request
from lineguard.server.pki import PlantCa, ReplicaCredentials, ca_paths


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
        client.call("127.0.0.1", port, {"op": "deliver"}, b"y" * 2**20)
    release.set()
    for caller in callers:
        caller.join(30)
    assert answers == [1, 1]
    assert client.call("127.0.0.1", port, {"op": "deliver"}, b"zz")[0]["size"] == 2


def test_a_long_running_pair_renews_its_certificates_before_they_end(relay: Relay) -> None:
    """Certificates of 4 s, renewed when 2 s are left (as the heartbeat loop does with 24 h
    and 12 h): hand-offs keep working for three lifetimes, while a client that never renews
    is refused once its certificate has ended."""
    lifetime_h, margin = 4 / 3600, timedelta(seconds=2)

    def issue(replica_id: str) -> ReplicaCredentials:
        return relay.ca.issue_replica_certificate(replica_id=replica_id, host="127.0.0.1", hours=lifetime_h)

    async def echo(request: Request) -> tuple[dict[str, Any], bytes]:
        return {"peer": request.peer_id}, b""

    owner_tls = RelayTls(issue("rep_owner"), relay.ca_file)
    server = PeerServer(owner_tls, echo)
    relay.servers.append(server)
    port = asyncio.run_coroutine_threadsafe(server.start("127.0.0.1", 0), relay.loop).result(30)
    sender_tls = RelayTls(issue("rep_sender"), relay.ca_file)
    sender, stale = (
        PeerClient(sender_tls, timeout_s=10),
        PeerClient(RelayTls(issue("rep_stale"), relay.ca_file)),
    )
    first_end, renewals = owner_tls.not_after, 0
    ends = time.monotonic() + 12
    while time.monotonic() < ends:
        for tls, name in ((owner_tls, "rep_owner"), (sender_tls, "rep_sender")):
            if tls.expires_within(margin):
                tls.renew(issue(name))
                renewals += 1
        assert sender.call("127.0.0.1", port, {"op": "take"})[0]["peer"] == "rep_sender"
        time.sleep(0.5)
    assert datetime.now(UTC) > first_end + timedelta(seconds=4)  # well past the first certificates
    assert renewals >= 8  # each side renewed every ~2 s
    with pytest.raises(EvidenceRelayError, match="could not be reached"):
        stale.call("127.0.0.1", port, {"op": "take"})
