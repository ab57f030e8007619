"""Finding 10 of the 2026-12 security review: ``keys init`` and ``ca init`` left no audit entry.

Creating the keyring and the plant CA are the two acts every later secret depends on;
both now append a typed entry naming the OS user who ran them, on both engines.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from lineguard.cli.main import cli
from lineguard.config import load_server_config
from lineguard.server.audit.models import AuditEntryRow
from lineguard.server.storage import open_storage


@pytest.fixture
def server_yaml(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LG_TEST_KEYRING_PASS", "a long test passphrase for the keyring")
    monkeypatch.setenv("LINEGUARD_CA_PASSPHRASE", "a long test passphrase for the CA")
    path = tmp_path / "server.yaml"
    config = {
        "kind": "server",
        "site_id": "plant-a",
        "data_dir": str(tmp_path / "data"),
        "database": {"url": db_url},
        "keyring": {"passphrase": {"env": "LG_TEST_KEYRING_PASS"}},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def _entries(server_yaml: Path) -> list[tuple[str, str, dict[str, object]]]:
    engine, sessions = open_storage(load_server_config(server_yaml), migrate=False)
    try:
        with sessions() as session:
            rows = session.scalars(select(AuditEntryRow).order_by(AuditEntryRow.seq)).all()
            return [(r.name, r.actor, json.loads(r.payload)) for r in rows]
    finally:
        engine.dispose()


def test_keys_init_and_ca_init_are_audited(server_yaml: Path) -> None:
    for command in (["keys", "init"], ["ca", "init"]):
        result = CliRunner().invoke(cli, [*command, "--config", str(server_yaml)])
        assert result.exit_code == 0, result.output
    (keyring, kek), (ca, fingerprint) = [(n, p) for n, _, p in _entries(server_yaml)]
    assert (
        keyring == "keys.keyring_created"
        and str(kek["kek_id"])
        in CliRunner().invoke(cli, ["keys", "status", "--config", str(server_yaml)]).output
    )
    assert ca == "pki.ca_created" and len(str(fingerprint["fingerprint_sha256"])) == 64
    assert all(actor.startswith("cli:") for _, actor, _ in _entries(server_yaml))
