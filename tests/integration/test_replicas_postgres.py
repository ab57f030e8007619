"""Two server replicas on one PostgreSQL: start together, write one audit chain, lead duties once.

Each replica is a full ``create_app`` with its own engine (its own connection pool, as a
second server process has), the real envelope encryption and audit recorder, and the
shared ``data_dir`` every replica mounts (keyring, audit key, CA). Their lifespans start
at the same moment, so the schema migration and the start-up configuration audit race
for real; then both append audit entries and sign checkpoints from many threads, and the
``lineguard audit verify`` command must find one unbroken, signed chain.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import psycopg
import pytest
import yaml
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.unit.crypto.conftest import make_test_keyring

from lineguard.cli.main import cli
from lineguard.config import load_server_config
from lineguard.contracts.audit import EvidenceAccessed
from lineguard.server.app import create_app
from lineguard.server.audit.models import AuditCheckpointRow, AuditEntryRow
from lineguard.server.audit.scheduled import checkpoint_now
from lineguard.server.context import ServerContext
from lineguard.server.governance.models import ConfigSnapshotRow
from lineguard.server.ingest.mqtt import LEADER_DUTY as MQTT_INGEST_DUTY
from lineguard.server.integrations.scheduled import LEADER_DUTY as MQTT_DUTY
from lineguard.server.integrations.scheduled import RECOMMENDER_DUTY
from lineguard.server.registry.scheduled import LEADER_DUTY as REGISTRY_DUTY
from lineguard.server.retention.scheduled import LEADER_DUTY as RETENTION_DUTY
from lineguard.server.review.scheduled import LEADER_DUTY as REVIEW_DUTY
from lineguard.server.storage import advisory_key, create_engine_for

PASS_ENV = "LG_TEST_REPLICA_KEYRING_PASS"
DUTIES = (RETENTION_DUTY, REVIEW_DUTY, REGISTRY_DUTY, MQTT_DUTY, RECOMMENDER_DUTY, MQTT_INGEST_DUTY)


@pytest.fixture
def server_yaml(tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(PASS_ENV, "a long passphrase for the replica test")
    path = tmp_path / "server.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "kind": "server",
                "site_id": "plant-a",
                "data_dir": str(tmp_path / "shared-data"),
                "database": {"url": postgres_url},
                "keyring": {"passphrase": {"env": PASS_ENV}},
            }
        )
    )
    make_test_keyring(path)
    return path


@pytest.fixture
def replicas(server_yaml: Path) -> Iterator[tuple[ServerContext, ServerContext]]:
    settings = load_server_config(server_yaml)
    apps = [create_app(settings), create_app(settings)]
    gate = threading.Barrier(2)

    def start(app: FastAPI) -> TestClient:
        client = TestClient(app, base_url="https://testserver")
        gate.wait()  # both lifespans (migrations, config audit, duties) begin together
        client.__enter__()
        return client

    with ExitStack() as stack, ThreadPoolExecutor(max_workers=2) as pool:
        for client in pool.map(start, apps):
            stack.callback(client.__exit__, None, None, None)
        contexts = tuple(app.state.lineguard for app in apps)
        assert all(isinstance(c, ServerContext) for c in contexts)
        yield contexts[0], contexts[1]
        for context in contexts:
            stack.callback(context.engine.dispose)


def test_replicas_start_together_and_write_one_verified_chain(
    replicas: tuple[ServerContext, ServerContext], server_yaml: Path
) -> None:
    with replicas[0].sessions() as session:
        # Both ran the start-up configuration audit; one snapshot per source, no duplicate.
        assert session.scalar(select(func.count()).select_from(ConfigSnapshotRow)) >= 1
        before = session.scalar(select(func.count()).select_from(AuditEntryRow)) or 0
    assert all(c.checkpoints.signer is not None for c in replicas)  # both hold the shared audit key

    def write(i: int) -> None:
        context = replicas[i % 2]
        with context.sessions.begin() as session:
            context.audit(
                session, EvidenceAccessed(evidence_ref=f"evd_{i}", purpose="rework"), actor="user:qe1"
            )
        if i % 25 == 0:  # checkpoints from both replicas, interleaved with the appends
            signer = context.checkpoints.signer
            assert signer is not None
            checkpoint_now(context, signer)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(400)))

    with replicas[1].sessions() as session:
        seqs = session.scalars(select(AuditEntryRow.seq).order_by(AuditEntryRow.seq)).all()
        checkpoints = session.scalar(select(func.count()).select_from(AuditCheckpointRow))
    assert len(seqs) == before + 400
    assert list(seqs) == list(range(1, len(seqs) + 1))  # one chain: no gap, no fork
    assert checkpoints is not None
    assert checkpoints >= 2

    result = CliRunner().invoke(cli, ["audit", "verify", "--config", str(server_yaml)])
    assert result.exit_code == 0, result.output
    assert f"ok: {len(seqs)} entries" in result.output


def test_each_duty_is_led_by_one_replica_and_moves_when_it_dies(
    replicas: tuple[ServerContext, ServerContext], postgres_url: str
) -> None:
    first, second = (c.leadership for c in replicas)
    for duty in DUTIES:
        assert [first.holds(duty), second.holds(duty)].count(True) == 1, duty
    leader, follower = (first, second) if first.holds(RETENTION_DUTY) else (second, first)
    led = leader.leading()

    # The leader's database connection dies (its process crashed, or a failover cut it):
    # PostgreSQL drops its advisory locks, and the other replica takes every duty over.
    key = advisory_key(RETENTION_DUTY) & 0xFFFF_FFFF_FFFF_FFFF
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        killed = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory'"
            " AND classid::bigint = %s AND objid::bigint = %s AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())",
            (key >> 32, key & 0xFFFF_FFFF),
        ).fetchone()
    assert killed == (1,)
    assert not leader.holds(RETENTION_DUTY)  # it notices at its next round instead of running on
    for duty in led:
        assert follower.holds(duty), duty
    assert not leader.holds(REVIEW_DUTY)


def test_replicas_migrating_at_once_take_turns(postgres_url: str) -> None:
    """Two server processes start on an empty database at the same moment: one migrates,
    the other waits on the advisory lock and finds the schema at head (no duplicate DDL)."""
    script = (
        "import sys; from lineguard.server.storage import create_engine_for, upgrade_to_head; "
        "upgrade_to_head(create_engine_for(sys.argv[1]))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    starts = [
        subprocess.Popen([sys.executable, "-c", script, postgres_url], env=env, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for process in starts:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
    engine = create_engine_for(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar_one() == 1
    finally:
        engine.dispose()
