"""Two server replicas behind a real HAProxy (TLS passthrough) on one PostgreSQL.

Each replica is a real ``lineguard server`` process on the shared ``data_dir`` and
database (replicas share one server.yaml but for the port). HAProxy runs the
configuration docs/deployment.md gives: ``mode tcp``, so the balancer forwards
connections and never sees a key, and node mTLS ends at LineGuard. Through it, nodes
enrol and post batches the way their outbox does (resend the same batch until a 200);
one replica is killed (SIGKILL) mid-ingest, and every acknowledged event must be in the
database exactly once.
"""

from __future__ import annotations

import hashlib
import signal
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from tests.support.haproxy import HAProxy
from tests.support.outbox import post_until_acknowledged
from tests.support.replicas import ReplicaSet, running_replicas
from tests.unit.server.conftest import issue_node_token
from tests.unit.server.ingest import factory

from lineguard.edge.identity import enroll, https_client
from lineguard.server.admin import admin_session, load_ca
from lineguard.server.ingest.models import InspectionEventRow
from lineguard.server.pki import ca_paths
from lineguard.server.storage import create_engine_for

BATCH = "/api/v1/ingest/batch"
ENV = {
    "LINEGUARD_CA_PASSPHRASE": "haproxy test ca passphrase",
    "LINEGUARD_KEYRING_PASSPHRASE": "haproxy test keyring passphrase",
}
NODES, BATCHES, EVENTS_PER_BATCH, KILL_AFTER_ACKS = 2, 20, 4, 10


@pytest.fixture
def replicas(tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReplicaSet]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with running_replicas(tmp_path, postgres_url, ENV) as started:
        yield started


def _token(settings: Any, node_id: str) -> str:
    with admin_session(settings, actor="cli:test") as admin:
        return issue_node_token(admin.session, load_ca(settings), node_id, audit=admin.audit)


def test_nodes_enrol_and_ingest_through_haproxy_and_a_dying_replica_loses_nothing(
    replicas: ReplicaSet, tmp_path: Path, postgres_url: str
) -> None:
    settings, ports, processes = replicas.settings, replicas.ports, replicas.processes
    with HAProxy(tmp_path / "haproxy", [("127.0.0.1", port) for port in ports]) as balancer:
        # Passthrough: the certificate a client sees through the balancer is LineGuard's own.
        server_pem = ca_paths(settings.data_dir).server_cert.read_text()
        seen = ssl.get_server_certificate(("127.0.0.1", balancer.port))
        assert (
            hashlib.sha256(ssl.PEM_cert_to_DER_cert(seen)).digest()
            == hashlib.sha256(ssl.PEM_cert_to_DER_cert(server_pem)).digest()
        )
        nodes = [f"node-{i}" for i in range(NODES)]
        for node in nodes:  # enrolment through the balancer, pinned to the plant CA
            enroll(balancer.url, _token(settings, node), tmp_path / node)
        # A request without the node's certificate reaches LineGuard and is refused there.
        plant_ca = ssl.create_default_context(cafile=str(ca_paths(settings.data_dir).cert))
        with httpx.Client(verify=plant_ca, timeout=10) as anonymous:
            refused = anonymous.post(f"{balancer.url}{BATCH}", json=factory.batch("node-0", []))
        assert refused.status_code == 401, refused.text

        acknowledged: list[dict[str, Any]] = []
        retried = [0]
        lock = threading.Lock()

        def node_loop(node: str) -> None:
            with https_client(tmp_path / node) as client:  # one keep-alive connection, as a node has
                for _ in range(BATCHES):
                    body = factory.batch(node, [factory.event(node) for _ in range(EVENTS_PER_BATCH)])
                    tries = post_until_acknowledged(client, body)
                    with lock:
                        retried[0] += tries - 1
                        acknowledged.append(body)

        threads = [threading.Thread(target=node_loop, args=(node,)) for node in nodes]
        for thread in threads:
            thread.start()
        while len(acknowledged) < KILL_AFTER_ACKS and any(t.is_alive() for t in threads):
            time.sleep(0.01)
        processes[0].send_signal(signal.SIGKILL)  # a replica goes away mid-ingest
        processes[0].wait(timeout=10)
        for thread in threads:
            thread.join(120)
        assert not any(t.is_alive() for t in threads)

    assert len(acknowledged) == NODES * BATCHES
    sent = {e["idempotency_key"] for b in acknowledged for e in b["events"]}
    engine = create_engine_for(postgres_url)
    try:
        with engine.connect() as conn:
            keys = conn.scalars(select(InspectionEventRow.idempotency_key)).all()
            per_key = set(
                conn.scalars(
                    select(func.count())
                    .select_from(InspectionEventRow)
                    .group_by(InspectionEventRow.idempotency_key)
                )
            )
    finally:
        engine.dispose()
    assert per_key == {1}  # nothing stored twice
    assert set(keys) == sent  # every acknowledged event is there
    print(f"haproxy: {len(acknowledged)} batches acknowledged, {retried[0]} resent after the replica died")
