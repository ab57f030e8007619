"""Remote evidence views across two server replicas on one PostgreSQL, behind a real HAProxy.

Replica A is a real ``lineguard server`` process (so it can be SIGKILLed as a crash
would); replica B is the same app in this process (so the test can enrol a node and
add people through its services). Both share one ``data_dir`` and database, run with
``http.replicas: 2``, and so relay views between them: state in PostgreSQL, NOTIFY
with node ids only, the image handed over the internal mutual-TLS relay.

The browser talks to A and the node to B directly where the test needs to pin the path
(a load balancer would choose); the last journey goes through HAProxy for both.
"""

from __future__ import annotations

import json
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from pydantic import SecretStr
from sqlalchemy import func, select, update
from tests.e2e.plant import Plant, add_person
from tests.support.evidence_node import EvidenceNode
from tests.support.evidence_views import open_view, record, seeded, sign_in
from tests.support.haproxy import HAProxy
from tests.support.replicas import (
    CHEAP_AUTH,
    free_port,
    replica_config,
    start_replica,
    start_replica_process,
)
from tests.support.tcp_forwarder import TcpForwarder
from tests.unit.crypto.conftest import make_test_keyring

from lineguard.cli.main import cli
from lineguard.config import load_server_config
from lineguard.contracts.errors import ContractError, ImageDecodeError, NotFoundError, PermissionDeniedError
from lineguard.contracts.evidence_view import EvidenceRelayError, EvidenceViewRequest, ReplicaRevokedError
from lineguard.contracts.ids import new_id
from lineguard.edge.evidence.remote_view import REQUESTS_PATH, HourlyLimit, RemoteViewWorker, build_reply
from lineguard.edge.identity import IdentityStore, https_client
from lineguard.server.admin import init_ca, load_ca
from lineguard.server.app import create_app
from lineguard.server.audit.models import AuditEntryRow
from lineguard.server.auth.catalog import Role
from lineguard.server.context import ServerContext
from lineguard.server.evidence_views.models import EvidenceViewRow, RelayPeerRow
from lineguard.server.evidence_views.peers import PeerClient, RelayTls
from lineguard.server.evidence_views.revocation import issue_unless_revoked
from lineguard.server.governance.doctor import run_doctor
from lineguard.server.governance.state import gather
from lineguard.server.pki import PlantCa, ReplicaCredentials, ca_paths
from lineguard.server.tls import ServerThread

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ENV = {
    "LINEGUARD_CA_PASSPHRASE": "relay test ca passphrase",
    "LINEGUARD_KEYRING_PASSPHRASE": "relay test keyring passphrase",
}
DEADLINE_S = 60.0


@dataclass
class Cluster:
    a_url: str
    b_url: str
    a: subprocess.Popen[bytes]
    a_log: Path
    b: ServerContext
    plant: Plant  # replica B, for the e2e helpers
    node: EvidenceNode
    ca_file: Path


@pytest.fixture
def cluster(tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    with _cluster(tmp_path, postgres_url, monkeypatch) as running:
        yield running


@contextmanager
def _cluster(
    tmp_path: Path,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    *,
    a_relay: dict[str, object] | None = None,
) -> Iterator[Cluster]:
    """Replica A (a process, with ``a_relay`` added to its ``http`` section) and B (in process)."""
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    pa, pb = free_port(), free_port()
    a_http = {"http": {"host": "127.0.0.1", "port": pa, "replicas": 2, **(a_relay or {})}}
    config_a = replica_config(tmp_path, postgres_url, pa, sections={**CHEAP_AUTH, **a_http})
    config_b = replica_config(tmp_path, postgres_url, pb, sections=CHEAP_AUTH)
    settings = load_server_config(config_b)
    init_ca(settings)
    make_test_keyring(config_b)
    a_log = tmp_path / "replica-a.log"
    a = start_replica(config_a, pa, a_log, ENV)  # first: it migrates
    paths = ca_paths(settings.data_dir)
    app = create_app(settings)
    try:
        with ServerThread(
            app, port=pb, cert_file=paths.server_cert, key_file=paths.server_key, ca_file=paths.cert
        ):
            context: ServerContext = app.state.lineguard
            plant, node = seeded(context, f"https://127.0.0.1:{pb}", tmp_path)
            try:
                yield Cluster(
                    f"https://127.0.0.1:{pa}", plant.url, a, a_log, context, plant, node, paths.cert
                )
            finally:
                node.store.close()
    finally:
        if a.poll() is None:
            a.terminate()
            a.wait(timeout=30)


def _outcome(browser: httpx.Client, url: str) -> httpx.Response:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        answer = browser.get(url)
        if answer.status_code != 202:
            return answer
        time.sleep(0.1)
    pytest.fail(f"the view {url} was still pending after {DEADLINE_S:.0f} s")


def _delivered(cluster: Cluster, browser: httpx.Client, csrf: str, fetch_from: str) -> None:
    """A view opened on ``browser``'s replica, fetched from ``fetch_from``: the node's image, exactly."""
    event_id, evidence_ref = record(cluster.plant, cluster.node)
    url = open_view(browser, csrf, event_id)
    shown = _outcome(browser, f"{fetch_from}{url}")
    assert shown.status_code == 200, shown.text
    assert shown.content == cluster.node.store.read(evidence_ref)


def _outcomes(cluster: Cluster) -> list[tuple[str, str]]:
    """Every ``access.evidence_view`` entry: (view_id, result)."""
    with cluster.plant.context.sessions() as session:
        payloads = session.scalars(
            select(AuditEntryRow.payload).where(AuditEntryRow.name == "access.evidence_view")
        ).all()
    return sorted((p["view_id"], p["result"]) for p in map(json.loads, payloads))


def _worker(cluster: Cluster, url: str, stop: threading.Event) -> RemoteViewWorker:
    worker = RemoteViewWorker(
        stop,
        store=cluster.node.store,
        client_factory=lambda: https_client(cluster.node.data_dir, url),
        wait_s=2.0,
    )
    worker.start()
    return worker


def test_a_view_opened_on_a_is_answered_through_b_and_handed_out_once(cluster: Cluster) -> None:
    browser, csrf = sign_in(cluster.plant, cluster.a_url)
    other, _ = sign_in(cluster.plant, cluster.a_url, "rita.quality")  # another person, another session
    stop = threading.Event()
    worker = _worker(cluster, cluster.b_url, stop)  # the node reaches replica B only
    try:
        # Opened on A, long-polled and uploaded on B, fetched from A: B hands the bytes to A.
        event_id, evidence_ref = record(cluster.plant, cluster.node)
        url = open_view(browser, csrf, event_id)
        shown = _outcome(browser, url)
        assert shown.status_code == 200, shown.text
        assert shown.headers["cache-control"] == "no-store"
        assert shown.content == cluster.node.store.read(evidence_ref)
        again = browser.get(url)
        assert again.status_code == 410 and again.json()["code"] == "evidence_view_gone", again.text
        refused = other.get(url)
        assert refused.status_code == 404, refused.text

        # Opened on A, fetched through B: B takes the image from A (the owner) for the person.
        event_id, evidence_ref = record(cluster.plant, cluster.node)
        url = open_view(browser, csrf, event_id)
        via_b = _outcome(browser, f"{cluster.b_url}{url}")
        assert via_b.status_code == 200, via_b.text
        assert via_b.content == cluster.node.store.read(evidence_ref)
        assert browser.get(url).status_code == 410  # A handed it out already, once
        assert worker.uploaded == 2
    finally:
        stop.set()
        worker.join(30)
        browser.close()
        other.close()

    outcomes = _outcomes(cluster)
    assert [result for _, result in outcomes] == ["delivered", "delivered"]
    assert len({view_id for view_id, _ in outcomes}) == 2
    # No image anywhere but in the owner's memory, and there only until handed out.
    with cluster.b.sessions() as session:
        rows = session.scalars(select(EvidenceViewRow)).all()
    assert {r.state for r in rows} == {"taken"}
    image = cluster.node.store.read(evidence_ref)
    assert not any(image[:64] in str(vars(r)).encode() for r in rows)
    assert image[100:164].hex() not in cluster.a_log.read_text(errors="replace")


def test_the_owner_killed_mid_view_ends_it_lost_and_no_image_is_kept(cluster: Cluster) -> None:
    browser, csrf = sign_in(cluster.plant, cluster.a_url)
    event_id, evidence_ref = record(cluster.plant, cluster.node)
    url = open_view(browser, csrf, event_id)  # A owns the view
    with https_client(cluster.node.data_dir, cluster.b_url) as node:
        polled = node.get(REQUESTS_PATH, params={"wait": 10})
        assert polled.status_code == 200, polled.text
        [request] = polled.json()["requests"]
        cluster.a.send_signal(signal.SIGKILL)  # the owner dies between the node's poll and its upload
        cluster.a.wait(timeout=10)
        reply = build_reply(cluster.node.store, EvidenceViewRequest.model_validate(request), HourlyLimit(10))
        answer = node.post(
            f"{REQUESTS_PATH}/{request['request_id']}",
            content=reply.model_dump_json().encode(),
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 410, answer.text
    assert answer.json()["code"] == "evidence_view_lost"
    assert "stopped before the image was handed out" in answer.json()["message"]

    for _ in range(2):  # the person learns it on B; the outcome is audited once
        seen = browser.get(f"{cluster.b_url}{url}")
        assert seen.status_code == 410, seen.text
        assert seen.json()["code"] == "evidence_view_lost"
    browser.close()
    assert [result for _, result in _outcomes(cluster)] == ["replica_lost"]
    shared = cluster.b.evidence_views.shared
    assert shared is not None and shared.held_bytes() == 0
    assert cluster.node.store.read(evidence_ref)[100:164].hex() not in cluster.a_log.read_text(
        errors="replace"
    )


def test_a_replica_behind_nat_is_reached_on_its_advertised_address(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replica A's relay listens on 127.0.0.1:P (its inside address) and advertises
    127.0.0.2:Q, where a TCP forwarder standing in for the NAT pipes to P. B reaches A
    only through the forwarder, and checks A's certificate against the advertised name."""
    inside = free_port()
    with TcpForwarder(listen=("127.0.0.2", 0), target=("127.0.0.1", inside)) as nat:
        a_relay = {
            "internal_host": "127.0.0.1",
            "internal_port": inside,
            "internal_advertised_host": nat.host,
            "internal_advertised_port": nat.port,
        }
        with _cluster(tmp_path, postgres_url, monkeypatch, a_relay=a_relay) as cluster:
            with cluster.b.sessions() as session:
                registered = session.execute(select(RelayPeerRow.host, RelayPeerRow.port)).all()
            assert sorted(registered) == sorted([("127.0.0.2", nat.port), _b_listener(cluster)])
            assert ("127.0.0.1", inside) not in registered  # the bound address is not advertised

            browser, csrf = sign_in(cluster.plant, cluster.a_url)
            stop = threading.Event()
            worker = _worker(cluster, cluster.b_url, stop)  # the node's upload lands on B
            try:
                for fetch_from in (cluster.a_url, cluster.b_url):  # B delivers to A; B takes from A
                    _delivered(cluster, browser, csrf, fetch_from)  # opened on A: A owns it
            finally:
                stop.set()
                worker.join(30)
                browser.close()
            assert nat.connections >= 2  # the deliver and the take went through the "NAT"
            assert [result for _, result in _outcomes(cluster)] == ["delivered"] * 2


def test_a_replica_whose_clock_runs_90_s_behind_is_not_taken_for_dead(cluster: Cluster) -> None:
    """B's host clock is set 90 s behind (injected); B owns a view opened there, the node
    polls and uploads on A, and the person fetches through A. A judges B alive on the
    database's clock, so the request reaches the node and A hands the upload to B and takes
    it back for the person. (On host clocks B's heartbeats would look 90 s old to A, the
    request would never reach the node and the view would time out.)"""
    shared = cluster.b.evidence_views.shared
    assert shared is not None
    shared.host_clock = lambda: datetime.now(UTC) - timedelta(seconds=90)
    host, port = _b_listener(cluster)
    assert -95 < shared.heartbeat(host, port) < -85  # the skew, measured against the database

    browser, csrf = sign_in(cluster.plant, cluster.b_url)  # opened on B: B owns it
    stop = threading.Event()
    worker = _worker(cluster, cluster.a_url, stop)  # the node reaches A only
    try:
        _delivered(cluster, browser, csrf, cluster.a_url)  # A takes it from B
    finally:
        stop.set()
        worker.join(30)
        browser.close()
    assert [result for _, result in _outcomes(cluster)] == ["delivered"]
    with cluster.b.sessions() as session:
        [row] = session.scalars(select(EvidenceViewRow)).all()
    assert (row.owner_id, row.state) == (shared.replica_id, "taken")


def test_through_haproxy_every_view_is_delivered_once(cluster: Cluster, tmp_path: Path) -> None:
    a_port, b_port = (int(u.rsplit(":", 1)[1]) for u in (cluster.a_url, cluster.b_url))
    with HAProxy(tmp_path / "haproxy", [("127.0.0.1", a_port), ("127.0.0.1", b_port)]) as balancer:
        browser, csrf = sign_in(cluster.plant, balancer.url)
        stop = threading.Event()
        worker = _worker(cluster, balancer.url, stop)
        try:
            records = [record(cluster.plant, cluster.node) for _ in range(3)]
            urls = [open_view(browser, csrf, event_id) for event_id, _ in records]
            for url, (_, evidence_ref) in zip(urls, records, strict=True):
                shown = _outcome(browser, url)
                assert shown.status_code == 200, shown.text
                assert shown.content == cluster.node.store.read(evidence_ref)
                assert browser.get(url).status_code == 410
        finally:
            stop.set()
            worker.join(30)
            browser.close()
    assert [result for _, result in _outcomes(cluster)] == ["delivered"] * 3


def test_each_worker_of_one_server_takes_part_in_the_relay(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``http.workers: 2`` on PostgreSQL: the kernel spreads connections over both processes,
    each registers its own loopback relay listener, and every view is delivered once."""
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    port = free_port()
    http = {"host": "127.0.0.1", "port": port, "workers": 2, "replicas": 1}
    config = replica_config(tmp_path, postgres_url, port, sections={**CHEAP_AUTH, "http": http})
    settings = load_server_config(config)
    init_ca(settings)
    make_test_keyring(config)
    log = tmp_path / "server.log"
    server = start_replica(config, port, log, ENV)
    try:
        app = create_app(settings)  # not served: its services seed the shared database
        context: ServerContext = app.state.lineguard
        url = f"https://127.0.0.1:{port}"
        plant, node = seeded(context, url, tmp_path)
        cluster = Cluster(url, url, server, log, context, plant, node, plant.ca_file)
        browser, csrf = sign_in(cluster.plant, url)
        stop = threading.Event()
        worker = _worker(cluster, url, stop)
        try:
            for _ in range(4):
                event_id, evidence_ref = record(cluster.plant, cluster.node)
                view_url = open_view(browser, csrf, event_id)
                shown = _outcome(browser, view_url)
                assert shown.status_code == 200, shown.text
                assert shown.content == node.store.read(evidence_ref)
                assert browser.get(view_url).status_code == 410
        finally:
            stop.set()
            worker.join(30)
            browser.close()
            node.store.close()
        assert [result for _, result in _outcomes(cluster)] == ["delivered"] * 4
        with context.sessions() as session:
            listeners = session.execute(select(RelayPeerRow.host, RelayPeerRow.port)).all()
        assert len(listeners) == 2 and len({p for _, p in listeners}) == 2
        assert {h for h, _ in listeners} == {"127.0.0.1"}
    finally:
        server.terminate()
        server.wait(timeout=30)


# -- the internal relay refuses what it must ------------------------------------------------


def _b_listener(cluster: Cluster) -> tuple[str, int]:
    shared = cluster.b.evidence_views.shared
    assert shared is not None
    with cluster.b.sessions() as session:
        row = session.get(RelayPeerRow, shared.replica_id)
    assert row is not None
    return row.host, row.port


def _replica_client(cluster: Cluster, ca: PlantCa | None = None) -> PeerClient:
    ca = ca or load_ca(cluster.plant.settings)
    credentials = ca.issue_replica_certificate(replica_id=new_id("rep"), host="127.0.0.1")
    return PeerClient(RelayTls(credentials, cluster.ca_file), timeout_s=5)


def test_the_internal_relay_refuses_bad_input_with_a_clear_error(cluster: Cluster, tmp_path: Path) -> None:
    host, port = _b_listener(cluster)
    _, evidence_ref = record(cluster.plant, cluster.node)
    jpeg = cluster.node.store.read(evidence_ref)
    deliver = {
        "op": "deliver",
        "view_id": "evv_unknown",
        "request_id": "evq_unknown",
        "node_id": "edge-relay",
    }
    client = _replica_client(cluster)

    with pytest.raises(NotFoundError, match="holds no evidence view 'evv_unknown'"):
        client.call(host, port, deliver, jpeg)
    with pytest.raises(ImageDecodeError, match="not a JPEG image"):
        client.call(host, port, deliver, b"definitely not a jpeg")
    with pytest.raises(ContractError, match="unknown relay operation 'copy'"):
        client.call(host, port, {"op": "copy"})
    with pytest.raises(ContractError, match="'view_id' must be a string"):
        client.call(host, port, {"op": "take", "view_id": 7, "user_id": "u", "actor": "a"})

    # A node certificate of the same plant CA completes the handshake and is refused.
    node_pem = IdentityStore(cluster.node.data_dir).credentials_file.read_bytes()
    as_node = PeerClient(RelayTls(ReplicaCredentials(node_pem, node_pem), cluster.ca_file), timeout_s=5)
    with pytest.raises(PermissionDeniedError, match="takes only LineGuard replica certificates"):
        as_node.call(host, port, deliver, jpeg)
    # A replica certificate of another CA fails the handshake.
    stranger = PlantCa.create(
        tmp_path / "other-ca", SecretStr("another plant's ca passphrase"), site_id="elsewhere"
    )
    with pytest.raises(EvidenceRelayError, match="could not be reached"):
        _replica_client(cluster, stranger).call(host, port, deliver, jpeg)

    # An oversized body is refused from its announced length, before a byte of it is read.
    credentials = load_ca(cluster.plant.settings).issue_replica_certificate(replica_id="rep_raw", host=host)
    tls = RelayTls(credentials, cluster.ca_file)
    header = b'{"op":"deliver"}'
    with (
        socket.create_connection((host, port), timeout=5) as raw,
        tls.client.wrap_socket(raw, server_hostname=host) as s,
    ):
        s.sendall(struct.pack(">I", len(header)) + header + struct.pack(">I", 9 * 2**20))
        answer = s.recv(65536)
    assert b'"code":"payload_too_large"' in answer and b"relay body of 9437184 bytes" in answer

    # Nothing of all this changed a view or kept a byte.
    shared = cluster.b.evidence_views.shared
    assert shared is not None and shared.held_bytes() == 0
    with cluster.b.sessions() as session:
        assert session.scalars(select(EvidenceViewRow)).all() == []


# -- revocation and refused connections ------------------------------------------------------


def _a_listener(cluster: Cluster) -> tuple[str, str, int]:
    shared = cluster.b.evidence_views.shared
    assert shared is not None
    with cluster.b.sessions() as session:
        [row] = session.scalars(
            select(RelayPeerRow).where(RelayPeerRow.replica_id != shared.replica_id)
        ).all()
    return row.replica_id, row.host, row.port


def _audited(cluster: Cluster, name: str, *, at_least: int = 1) -> list[tuple[str, dict[str, object]]]:
    """The (actor, payload) of every ``name`` entry, waiting up to 20 s for ``at_least`` of them."""
    deadline = time.monotonic() + 20
    while True:
        with cluster.b.sessions() as session:
            rows = session.execute(
                select(AuditEntryRow.actor, AuditEntryRow.payload).where(AuditEntryRow.name == name)
            ).all()
        found = [(actor, json.loads(payload)) for actor, payload in rows]
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


def test_a_revoked_replica_is_refused_by_the_other_and_cannot_renew(cluster: Cluster) -> None:
    """An IT administrator revokes replica B through replica A's API. A (another process)
    refuses B's relay connections from then on, checked in PostgreSQL, and audits the
    refusal; B learns it at its next heartbeat, opens no view and is refused a new
    certificate; A keeps working."""
    shared = cluster.b.evidence_views.shared
    peers = cluster.b.evidence_views.peers
    assert shared is not None and peers is not None
    a_id, a_host, a_port = _a_listener(cluster)
    take = {"op": "take", "view_id": "evv_none", "user_id": "u", "actor": "user:x"}
    assert peers.call(a_host, a_port, take)[0] == {"ok": True, "image": False}  # B's relay works

    add_person(cluster.plant, "ivan.it", (Role.IT_ADMINISTRATOR,))
    admin, admin_csrf = sign_in(cluster.plant, cluster.a_url, "ivan.it")
    quality, quality_csrf = sign_in(cluster.plant, cluster.a_url)
    try:
        listed = {r["replica_id"]: r for r in admin.get("/api/v1/replicas").json()}
        assert set(listed) == {a_id, shared.replica_id}
        assert all(r["alive"] and not r["revoked"] for r in listed.values())
        revoke = f"/api/v1/replicas/{shared.replica_id}/revoke"
        body = {"reason": "host relay-b decommissioned"}
        refused = quality.post(revoke, json=body, headers={"X-CSRF-Token": quality_csrf})
        assert refused.status_code == 403, refused.text  # a quality engineer cannot
        done = admin.post(revoke, json=body, headers={"X-CSRF-Token": admin_csrf})
        assert done.status_code == 200, done.text
        assert (done.json()["revoked"], done.json()["alive"]) == (True, False)
        again = admin.post(revoke, json=body, headers={"X-CSRF-Token": admin_csrf})
        assert again.status_code == 409 and "already revoked" in again.json()["message"]

        # A refuses B's own relay client (B's in-memory replica certificate) from now on.
        with pytest.raises(ReplicaRevokedError, match=f"{shared.replica_id} was revoked .* relay-b"):
            peers.call(a_host, a_port, take)
        deadline = time.monotonic() + 20  # B learns it at its next heartbeat (every 3 s)
        while not shared.revoked and time.monotonic() < deadline:
            time.sleep(0.2)
        assert shared.revoked
        on_b, b_csrf = sign_in(cluster.plant, cluster.b_url, "rita.quality")  # quinn's code is used
        event_id, _ = record(cluster.plant, cluster.node)
        opened = on_b.post(
            f"/api/v1/dashboard/records/{event_id}/evidence",
            json={"purpose": "defect review"},
            headers={"X-CSRF-Token": b_csrf},
        )
        on_b.close()
        assert opened.status_code == 409, opened.text
        assert (
            opened.json()["code"] == "evidence_view_unavailable" and "was revoked" in opened.json()["message"]
        )
        with pytest.raises(ReplicaRevokedError, match="was revoked"):
            issue_unless_revoked(
                cluster.b.sessions,
                cluster.b.ca.get(),
                replica_id=shared.replica_id,
                host="127.0.0.1",
                hours=1,
            )

        # A is unaffected: a view opened on A, the node on A, delivered.
        stop = threading.Event()
        worker = _worker(cluster, cluster.a_url, stop)
        try:
            _delivered(cluster, quality, quality_csrf, cluster.a_url)
        finally:
            stop.set()
            worker.join(30)
    finally:
        admin.close()
        quality.close()

    [(actor, revoked)] = _audited(cluster, "replica.revoked")
    assert actor == "user:ivan.it" and revoked["replica_id"] == shared.replica_id
    assert revoked["reason"] == "host relay-b decommissioned"
    refusals = _audited(cluster, "replica.relay_refused")
    assert [(p["replica_id"], p["reason"], p["presented"]) for _, p in refusals] == [
        (a_id, "revoked", shared.replica_id)
    ]
    assert refusals[0][0] == "system:evidence-relay" and refusals[0][1]["count"] == 1


def test_a_flood_of_refused_connections_is_audited_once_with_its_count(cluster: Cluster) -> None:
    """Twenty connections with a node's certificate (same plant CA, not a replica) to A's
    relay: each refused ``forbidden``, and A writes one ``replica.relay_refused`` entry
    for the source, with the count, not twenty."""
    _, a_host, a_port = _a_listener(cluster)
    node_pem = IdentityStore(cluster.node.data_dir).credentials_file.read_bytes()
    as_node = PeerClient(RelayTls(ReplicaCredentials(node_pem, node_pem), cluster.ca_file), timeout_s=5)
    for _ in range(20):
        with pytest.raises(PermissionDeniedError, match="takes only LineGuard replica certificates"):
            as_node.call(a_host, a_port, {"op": "take"})
    [(actor, entry)] = _audited(cluster, "replica.relay_refused")
    assert actor == "system:evidence-relay"
    assert (entry["source_ip"], entry["reason"], entry["outcome"]) == ("127.0.0.1", "not_a_replica", "denied")
    assert "CN=edge-relay" in str(entry["presented"])
    assert 1 <= int(entry["count"]) <= 20  # the rest, if any, in A's next entry a minute later
    time.sleep(6)  # a flush or more later, still within the minute: nothing more for this source
    assert len(_audited(cluster, "replica.relay_refused")) == 1


def _doctor(cluster: Cluster) -> dict[str, tuple[str, str]]:
    """``lineguard doctor``'s replica checks, gathered from the shared database: id → (status, evidence)."""
    with cluster.b.sessions() as session:
        report = run_doctor(gather(session, cluster.b.settings), facts_sha256="-")
    return {r.id: (r.status, r.evidence) for r in report.results if r.id.startswith("network.re")}


def test_the_doctor_checks_every_replica_registered_beating_on_time_and_reachable(cluster: Cluster) -> None:
    shared = cluster.b.evidence_views.shared
    assert shared is not None
    a_id, _, _ = _a_listener(cluster)
    checks = _doctor(cluster)
    assert checks["network.replicas"][0] == "pass", checks
    assert "2 of 2 server processes beating" in checks["network.replicas"][1]
    assert checks["network.relay_refusals"][0] == "pass"

    # B's clock 30 s behind the database's: a warning naming it (measured at B's next beats).
    shared.host_clock = lambda: datetime.now(UTC) - timedelta(seconds=30)
    host, port = _b_listener(cluster)
    shared.heartbeat(host, port)
    shared.heartbeat(host, port)  # the row carries the skew the previous beat measured
    status, evidence = _doctor(cluster)["network.replicas"]
    assert status == "warn" and f"{shared.replica_id} -30." in evidence, evidence
    shared.host_clock = lambda: datetime.now(UTC)

    # A refused a connection (a node's certificate): counted, shown once A has beaten since.
    node_pem = IdentityStore(cluster.node.data_dir).credentials_file.read_bytes()
    as_node = PeerClient(RelayTls(ReplicaCredentials(node_pem, node_pem), cluster.ca_file), timeout_s=5)
    _, a_host, a_port = _a_listener(cluster)
    with pytest.raises(PermissionDeniedError):
        as_node.call(a_host, a_port, {"op": "take"})
    deadline = time.monotonic() + 60  # a wait, not a timing assertion: ends when the doctor warns
    while _doctor(cluster)["network.relay_refusals"][0] == "pass" and time.monotonic() < deadline:
        time.sleep(0.5)
    status, evidence = _doctor(cluster)["network.relay_refusals"]
    assert status == "warn" and evidence.endswith(f"{a_id}: 1"), (
        evidence
    )  # the doctor's TCP probes are not refusals

    # A registered process whose address no longer answers, and A killed: both fail, named.
    with cluster.b.sessions() as session:
        session.add(
            RelayPeerRow(
                replica_id="rep_gone",
                host="127.0.0.1",
                port=free_port(),  # nothing listens there
                started_at=datetime.now(UTC),
                heartbeat_at=datetime.now(UTC),
            )
        )
        session.commit()
    status, evidence = _doctor(cluster)["network.replicas"]
    assert status == "fail" and "rep_gone at 127.0.0.1:" in evidence and "unreachable" in evidence, evidence
    cluster.a.send_signal(signal.SIGKILL)
    cluster.a.wait(timeout=10)
    with cluster.b.sessions() as session:  # A's last beat, aged past the liveness limit
        session.execute(
            update(RelayPeerRow)
            .where(RelayPeerRow.replica_id.in_([a_id, "rep_gone"]))
            .values(heartbeat_at=func.now() - timedelta(seconds=60))
        )
        session.commit()
    status, evidence = _doctor(cluster)["network.replicas"]
    assert status == "fail" and "1 of 2 server processes beating" in evidence, evidence
    assert f"{a_id} at {a_host}:{a_port}: last heartbeat 6" in evidence


def test_an_operator_lists_and_revokes_a_replica_from_the_command_line(
    cluster: Cluster, tmp_path: Path
) -> None:
    """``lineguard replicas list`` / ``revoke`` against the shared database: A (another
    process) revoked from B's config, so B, which never restarted, stops counting it."""
    shared = cluster.b.evidence_views.shared
    assert shared is not None
    a_id, _, _ = _a_listener(cluster)
    config = str(next(tmp_path.glob(f"server-{cluster.b_url.rsplit(':', 1)[1]}.yaml")))
    runner = CliRunner()
    listed = runner.invoke(cli, ["replicas", "list", "--config", config])
    assert listed.exit_code == 0, listed.output
    assert {line.split("\t")[0]: line.split("\t")[-1] for line in listed.output.splitlines()} == {
        a_id: "alive",
        shared.replica_id: "alive",
    }
    assert shared.peer(a_id) is not None
    done = runner.invoke(
        cli, ["replicas", "revoke", "--config", config, a_id, "--reason", "host relay-a retired"]
    )
    assert done.exit_code == 0, done.output
    assert f"replica {a_id} revoked" in done.output
    assert shared.peer(a_id) is None  # B agrees at once, no restart
    again = runner.invoke(cli, ["replicas", "revoke", "--config", config, a_id, "--reason", "twice"])
    assert again.exit_code != 0 and "already revoked" in again.output
    listed = runner.invoke(cli, ["replicas", "list", "--config", config])
    assert f"{a_id}\t" in listed.output and listed.output.split(a_id)[1].splitlines()[0].endswith("revoked")
    [(actor, entry)] = _audited(cluster, "replica.revoked")
    assert actor.startswith("cli:replicas.") and entry["reason"] == "host relay-a retired"

    # The retired host is started again: its replica id is kept (here LINEGUARD_REPLICA_ID,
    # as start_replica sets it), so it stays revoked and refuses to start.
    cluster.a.terminate()
    cluster.a.wait(timeout=30)
    port = int(cluster.a_url.rsplit(":", 1)[1])
    restarted = _refused_start(next(tmp_path.glob(f"server-{port}.yaml")), tmp_path / "again.log", {})
    assert f"this server replica ({a_id}) is revoked, so it does not start" in restarted, restarted
    assert shared.peer(a_id) is None


def test_a_second_process_with_a_replica_id_in_use_is_refused(
    cluster: Cluster, tmp_path: Path, postgres_url: str
) -> None:
    """Two hosts given one replica id (one environment value, or a copied data_dir and host
    name): the second refuses to start, here with two workers against A's one (every
    worker refused, so the server exits 3), and the first keeps its place."""
    a_id, _, _ = _a_listener(cluster)
    port = free_port()
    http = {"http": {"host": "127.0.0.1", "port": port, "replicas": 2, "workers": 2}}
    config = replica_config(tmp_path, postgres_url, port, sections={**CHEAP_AUTH, **http})
    log = _refused_start(config, tmp_path / "twin.log", {"LINEGUARD_REPLICA_ID": a_id})
    assert f"server replica id {a_id} is in use" in log, log
    shared = cluster.b.evidence_views.shared
    assert shared is not None and shared.peer(a_id) is not None  # A still beats and is reached


def _refused_start(config: Path, log: Path, env: dict[str, str]) -> str:
    """Run ``lineguard server`` that must refuse to start: its log, once it exited 3."""
    server = start_replica_process(config, log, {**ENV, **env})
    try:
        code = server.wait(timeout=120)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
        pytest.fail(f"the server started although it must not: {log.read_text()[-3000:]}")
    text = log.read_text()
    assert code == 3, text[-3000:]
    return text
