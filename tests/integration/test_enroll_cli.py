"""The whole node-identity story through the real commands, as separate processes:
``ca init`` → ``node token`` → ``server`` → ``edge enroll`` → ingest → ``node revoke``
→ the node's next request is refused. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from tests.support.replicas import free_port
from tests.support.server_yaml import plant_server_config
from tests.unit.server.ingest import factory

from lineguard.edge.identity import https_client
from lineguard.server.storage import create_engine_for, session_factory

ENV = {
    "LINEGUARD_CA_PASSPHRASE": "integration ca passphrase",
    "LINEGUARD_KEYRING_PASSPHRASE": "integration keyring pw",
}


def lineguard(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lineguard.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def env() -> dict[str, str]:
    return {**os.environ, **ENV}


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Path:
    cfg = plant_server_config(
        tmp_path / "server", http={"host": "127.0.0.1", "port": free_port()}, database={"url": db_url}
    )
    path = tmp_path / "server.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


@pytest.fixture
def running_server(config: Path, env: dict[str, str]) -> Iterator[str]:
    init = lineguard("ca", "init", "--config", str(config), env=env)
    assert init.returncode == 0, init.stderr
    port = yaml.safe_load(config.read_text())["http"]["port"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "lineguard.cli", "server", "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                output = proc.stdout.read() if proc.stdout else ""
                pytest.fail(f"server did not start:\n{output}")
            time.sleep(0.1)
        yield f"https://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_enroll_ingest_revoke_through_the_commands(
    running_server: str, config: Path, env: dict[str, str], tmp_path: Path, db_url: str
) -> None:
    issued = lineguard(
        "node",
        "token",
        "--config",
        str(config),
        "--node-id",
        "line1-node",
        "--line",
        "line-1",
        "--camera",
        "cam-1",
        env=env,
    )
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert token.startswith("lgt1.")

    node_dir = tmp_path / "edge"
    enrolled = lineguard(
        "edge",
        "enroll",
        "--server",
        running_server,
        "--data-dir",
        str(node_dir),
        env={**env, "LINEGUARD_ENROLL_TOKEN": token},
    )
    assert enrolled.returncode == 0, enrolled.stderr
    assert "enrolled as line1-node" in enrolled.stdout

    again = lineguard(
        "edge",
        "enroll",
        "--server",
        running_server,
        "--token",
        token,
        "--data-dir",
        str(tmp_path / "x"),
        env=env,
    )
    assert again.returncode == 2
    assert "already used" in again.stderr
    assert "Traceback" not in again.stderr

    events = factory.mixed_events("line1-node", 100, start=datetime.now(UTC))
    with https_client(node_dir) as client:
        r = client.post(
            "/api/v1/ingest/batch", json=factory.batch("line1-node", events, [factory.alert("line1-node")])
        )
        assert r.status_code == 200, r.text
        # Every item counts: 100 frame events, the 100 parts they show (factory.batch makes
        # each event a part seen in one frame) and the alert.
        assert r.json()["stored"] == 100 + 100 + 1
        listed = lineguard("node", "list", "--config", str(config), env=env)
        assert "line1-node\tactive\tline-1\tcam-1" in listed.stdout
        revoked = lineguard(
            "node", "revoke", "--config", str(config), "line1-node", "--reason", "stolen", env=env
        )
        assert revoked.returncode == 0, revoked.stderr
        r = client.post("/api/v1/ingest/heartbeat", json=factory.heartbeat("line1-node"))
    assert r.status_code == 401
    assert "revoked" in r.json()["message"]

    # Everything was audited, hash-chained, by the server and by the commands alike.
    from lineguard.server.audit.models import AuditEntryRow
    from lineguard.server.ingest.models import AlertRow

    engine = create_engine_for(db_url)
    try:
        with session_factory(engine)() as s:
            names = list(s.scalars(select(AuditEntryRow.name).order_by(AuditEntryRow.seq)))
            sealed = s.scalars(select(AlertRow.message_sealed)).one()
            assert s.scalar(select(func.count()).select_from(AuditEntryRow)) == len(names)
    finally:
        engine.dispose()
    for name in [
        "node.enrollment_token_issued",
        "node.enrolled",
        "access.denied",
        "ingest.batch_accepted",
        "node.revoked",
    ]:
        assert name in names
    assert b"ACME" not in sealed  # encrypted at rest by default


def test_ca_rotate_show_and_retire_through_the_commands(
    config: Path, env: dict[str, str], db_url: str
) -> None:
    """The operator's commands for a CA rotation, audited; mistakes end in a message, not a traceback."""
    assert lineguard("ca", "init", "--config", str(config), env=env).returncode == 0
    wrong = lineguard(
        "ca", "rotate", "--config", str(config), env={**env, "LINEGUARD_CA_PASSPHRASE": "wrong one!!"}
    )
    assert wrong.returncode != 0 and "wrong passphrase" in wrong.stderr and "Traceback" not in wrong.stderr
    early = lineguard("ca", "retire", "--config", str(config), env=env)
    assert early.returncode != 0 and "no CA rotation is overlapping" in early.stderr, early.stderr

    rotated = lineguard("ca", "rotate", "--config", str(config), env=env)
    assert rotated.returncode == 0, rotated.stderr
    assert "trusted until `lineguard ca retire`" in rotated.stdout
    shown = lineguard("ca", "show", "--config", str(config), env=env)
    assert "rotation overlapping: previous CA sha256" in shown.stdout, shown.stdout
    twice = lineguard("ca", "rotate", "--config", str(config), env=env)
    assert twice.returncode != 0 and "already overlapping" in twice.stderr

    # A token handed out during the overlap pins the previous CA (it serves until retired):
    # refused with the reason, nothing moved; --force goes ahead and names it.
    issued = lineguard(
        "node", "token", "--config", str(config), "--node-id", "late-node", "--line", "line-1",
        "--camera", "cam-1", env=env,
    )  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    refused = lineguard("ca", "retire", "--config", str(config), env=env)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert (
        "1 unused enrollment token(s) pin the previous CA" in refused.stderr and "late-node" in refused.stderr
    )
    retired = lineguard("ca", "retire", "--force", "--config", str(config), env=env)
    assert retired.returncode == 0, retired.stderr
    assert "make new ones for: late-node" in retired.stdout
    shown = lineguard("ca", "show", "--config", str(config), env=env)
    assert "rotation overlapping" not in shown.stdout and "retired: sha256" in shown.stdout, shown.stdout

    from lineguard.server.audit.models import AuditEntryRow

    engine = create_engine_for(db_url)
    try:
        with session_factory(engine)() as session:
            names = session.scalars(
                select(AuditEntryRow.name).where(AuditEntryRow.name.like("pki.%")).order_by(AuditEntryRow.seq)
            ).all()
    finally:
        engine.dispose()
    assert names == ["pki.ca_created", "pki.ca_rotated", "pki.ca_retired"]  # (the token: node.*)
