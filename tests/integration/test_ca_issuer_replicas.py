"""The CA key on one host: an issuer replica and a non-issuer one, real processes on PostgreSQL.

Two ``lineguard server`` processes share one ``data_dir`` and one PostgreSQL
(``http.replicas: 2``). Replica A is the issuer (``LINEGUARD_CA_PASSPHRASE`` in its
environment); replica B runs with ``LINEGUARD_PKI_ISSUER=false`` and no passphrase.
Checked through real TLS: B starts with a relay certificate the issuer signed on its
request (audited ``replica.relay_certificate_issued``); the heartbeat rows name A the
leader and B ``none``; a node enrolls and renews through B, signed by A and audited with
B's process id; with A killed, B answers 503 and the node's token stays unused, and once
A is back the same token works. B given the passphrase refuses to start.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.support.replicas import (
    ReplicaSet,
    free_port,
    replica_config,
    running_replicas,
    start_replica,
    start_replica_process,
)
from tests.unit.server.conftest import issue_node_token

from lineguard.contracts.errors import LineGuardError
from lineguard.edge.identity import IdentityStore, enroll, renew
from lineguard.server.audit.models import AuditEntryRow
from lineguard.server.evidence_views.models import RelayPeerRow
from lineguard.server.nodes.models import EnrollmentToken
from lineguard.server.pki import PlantCa
from lineguard.server.storage import open_engine, session_factory

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]

CA_PASSPHRASE = "issuer replicas ca passphrase"
KEYRING = {"LINEGUARD_KEYRING_PASSPHRASE": "issuer replicas keyring passphrase"}
DEADLINE_S = 60.0


def _eventually(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    pytest.fail(f"not within {DEADLINE_S:.0f} s: {what}")


ISSUER = {"LINEGUARD_CA_PASSPHRASE": CA_PASSPHRASE}
#: Replica B's host: not an issuer, and no passphrase (an empty value reads as missing).
NON_ISSUER = {"LINEGUARD_PKI_ISSUER": "false", "LINEGUARD_CA_PASSPHRASE": ""}


@dataclass
class Pair:
    replicas: ReplicaSet
    tmp_path: Path
    postgres_url: str

    def start_issuer(self) -> None:
        """Replica A again, on its own server.yaml (its port), as a host restarted after a crash."""
        port, log = self.replicas.ports[0], self.replicas.logs[0]
        config = replica_config(self.tmp_path, self.postgres_url, port)
        self.replicas.processes[0] = start_replica(config, port, log, {**KEYRING, **ISSUER})


@pytest.fixture
def pair(tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pair]:
    monkeypatch.setenv("LINEGUARD_CA_PASSPHRASE", CA_PASSPHRASE)  # making the CA: the issuer host's work
    monkeypatch.setenv(*next(iter(KEYRING.items())))
    with running_replicas(tmp_path, postgres_url, KEYRING, each=[ISSUER, NON_ISSUER]) as replicas:
        yield Pair(replicas, tmp_path, postgres_url)


def test_a_non_issuer_replica_gets_its_relay_certificate_and_nodes_signed_by_the_issuer(
    pair: Pair, tmp_path: Path
) -> None:
    engine = open_engine(pair.replicas.settings)
    sessions = session_factory(engine)
    public = PlantCa.load_public(pair.replicas.settings.data_dir)
    b_id = f"test-replica-{pair.replicas.ports[1]}"

    def token(node_id: str) -> str:
        with sessions() as session:
            return issue_node_token(session, public, node_id)

    def audited(name: str) -> list[str]:
        with sessions() as session:
            return [r.actor for r in session.scalars(select(AuditEntryRow).where(AuditEntryRow.name == name))]

    def roles() -> dict[str, str]:
        with sessions() as session:
            return {r.replica_id: r.ca_role for r in session.scalars(select(RelayPeerRow))}

    try:
        # B started: its relay certificate came from A, through the database, audited by A
        assert audited("replica.relay_certificate_issued") == ["system:pki"]
        _eventually(
            "A leads ca-issuer, B holds no key",
            lambda: roles().get(f"test-replica-{pair.replicas.ports[0]}") == "leader",
        )
        assert roles()[b_id] == "none"

        node = tmp_path / "node-a"
        assert enroll(pair.replicas.urls[1], token("node-a"), node).node_id == "node-a"
        IdentityStore(node).certificate().verify_directly_issued_by(public.certificate)
        renew(node, pair.replicas.urls[1])
        assert len(audited("node.enrolled")) == 1 and len(audited("node.certificate_renewed")) == 1

        pair.replicas.processes[0].send_signal(signal.SIGKILL)  # the issuer is gone; B keeps serving
        pair.replicas.processes[0].wait(timeout=30)
        waiting = token("node-b")
        with pytest.raises(LineGuardError, match="no plant CA issuer could sign") as caught:
            enroll(pair.replicas.urls[1], waiting, tmp_path / "node-b")
        assert caught.value.http_status == 503
        with sessions() as session:
            row = session.get(EnrollmentToken, waiting.split(".")[1])
            assert row is not None and row.used_at is None

        pair.start_issuer()  # back: the node's retry with the same token is signed
        _eventually(
            "B enrolls node-b through the issuer that came back",
            lambda: _enrolls(pair.replicas.urls[1], waiting, tmp_path / "node-b"),
        )
    finally:
        engine.dispose()
    assert "refusing" not in pair.replicas.logs[1].read_text()


def _enrolls(url: str, token: str, data: Path) -> bool:
    try:
        enroll(url, token, data)
    except LineGuardError as exc:
        if exc.http_status != 503:
            raise
        return False
    return True


def test_a_non_issuer_host_given_the_ca_passphrase_refuses_to_start(
    tmp_path: Path, postgres_url: str
) -> None:
    port = free_port()
    config = replica_config(tmp_path, postgres_url, port)
    log = tmp_path / "refused.log"
    process = start_replica_process(config, log, {**KEYRING, **NON_ISSUER, **ISSUER}, port=port)
    assert process.wait(timeout=120) != 0
    output = log.read_text()
    assert "not a CA issuer (LINEGUARD_PKI_ISSUER=false) but the plant CA passphrase is present" in output
    assert "environment variable LINEGUARD_CA_PASSPHRASE" in output
