"""``lineguard audit``: export, verify (file and live database), checkpoint, public-key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from lineguard.cli.main import cli
from lineguard.config import load_server_config
from lineguard.contracts.audit import EvidenceAccessed
from tests.unit.crypto.conftest import make_test_keyring

PASS_ENV = "LG_TEST_AUDIT_KEYRING_PASS"


@pytest.fixture
def server_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(PASS_ENV, "another long test passphrase")
    path = tmp_path / "server.yaml"
    config = {
        "kind": "server",
        "site_id": "plant-a",
        "data_dir": str(tmp_path / "data"),
        "keyring": {"passphrase": {"env": PASS_ENV}},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def _run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def test_export_verify_and_detect_tampering(server_yaml: Path, tmp_path: Path) -> None:
    from lineguard.server.audit import record
    from lineguard.server.storage import open_storage

    make_test_keyring(server_yaml)
    settings = load_server_config(server_yaml)
    engine, sessions = open_storage(settings)
    for i in range(25):
        with sessions.begin() as session:
            record(session, EvidenceAccessed(evidence_ref=f"evd_{i}", purpose="rework"), actor="user:qe1")
    engine.dispose()

    out_file = tmp_path / "audit.jsonl"
    assert "wrote 25 entries" in _run("audit", "export", "--config", str(server_yaml), "--out", str(out_file))
    pem = tmp_path / "audit.pub.pem"
    pem.write_text(_run("audit", "public-key", "--config", str(server_yaml)))
    assert "ok: 25 entries (seq 1-25), 1 signed checkpoints" in _run(
        "audit", "verify", str(out_file), "--public-key", str(pem)
    )
    assert "ok: 26 entries" in _run("audit", "verify", "--config", str(server_yaml))  # + audit.exported
    assert "signed checkpoint at seq 26" in _run("audit", "checkpoint", "--config", str(server_yaml))

    lines = out_file.read_text().splitlines()
    entry = json.loads(lines[9])
    entry["payload"]["evidence_ref"] = "evd_other"
    lines[9] = json.dumps(entry)
    out_file.write_text("\n".join(lines) + "\n")
    output = _run("audit", "verify", str(out_file), "--public-key", str(pem), code=2)
    assert f"error: entry {entry['seq']} was altered" in output


def test_verify_needs_a_key_it_did_not_get_from_the_file(tmp_path: Path) -> None:
    export = tmp_path / "a.jsonl"
    export.write_text("{}\n")
    assert "--public-key is required" in _run("audit", "verify", str(export), code=2)
    missing = tmp_path / "nope.pem"
    assert "cannot read public key" in _run(
        "audit", "verify", str(export), "--public-key", str(missing), code=2
    )
    not_pem = tmp_path / "x.pem"
    not_pem.write_text("hello")
    assert "is not a PEM public key" in _run(
        "audit", "verify", str(export), "--public-key", str(not_pem), code=2
    )
