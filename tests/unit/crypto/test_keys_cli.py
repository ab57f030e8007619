"""``lineguard keys``: init, status, rotate (re-wrapping every store) and prune, end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from lineguard.cli.main import cli
from lineguard.config import load_server_config
from lineguard.crypto import Envelope, SqliteDataKeyStore
from tests.unit.crypto.conftest import make_test_keyring

PASS_ENV = "LG_TEST_KEYRING_PASS"


def _server_yaml(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(PASS_ENV, "a long test passphrase for the keyring")
    path = tmp_path / "server.yaml"
    config = {
        "kind": "server",
        "site_id": "plant-a",
        "data_dir": str(tmp_path / "data"),
        "database": {"url": db_url},
        "keyring": {"passphrase": {"env": PASS_ENV}},
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def server_yaml(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """On SQLite and PostgreSQL."""
    return _server_yaml(tmp_path, db_url, monkeypatch)


@pytest.fixture
def sqlite_server_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return _server_yaml(tmp_path, f"sqlite:///{tmp_path / 'lineguard.db'}", monkeypatch)


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _run_fail(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.output


def test_rotate_rewraps_every_store_and_prune_destroys_the_old_kek(server_yaml: Path) -> None:
    from lineguard.server.audit.models import AuditEntryRow
    from lineguard.server.keystore import open_envelope, open_keyring
    from lineguard.server.storage import open_storage

    make_test_keyring(server_yaml)
    settings = load_server_config(server_yaml)
    engine, sessions = open_storage(settings)
    envelope = open_envelope(settings, sessions)
    sidecar = Envelope(envelope.keys, SqliteDataKeyStore(settings.data_dir / "keys" / "datakeys.db"))
    with envelope.batch():
        blobs = [envelope.seal(b"price 12.34", object_id=f"rec{i}", category="plant_data") for i in range(12)]
    side_blob = sidecar.seal(b"note", object_id="n1", category="notes")
    old_id = open_keyring(settings).active().kek_id

    assert f"{old_id}  active" in _run("keys", "status", "--config", str(server_yaml))
    out = _run("keys", "rotate", "--config", str(server_yaml), "--batch-size", "5")
    assert "re-wrapped 13 data keys" in out
    out = _run("keys", "prune", "--config", str(server_yaml), "--grace-s", "0")
    assert f"destroyed {old_id}" in out

    fresh = open_envelope(settings, sessions)  # a process started after the rotation
    assert fresh.open(blobs[7], object_id="rec7", category="plant_data") == b"price 12.34"
    side = Envelope(fresh.keys, SqliteDataKeyStore(settings.data_dir / "keys" / "datakeys.db"))
    assert side.open(side_blob, object_id="n1", category="notes") == b"note"
    with sessions() as session:
        names = session.scalars(select(AuditEntryRow.name).order_by(AuditEntryRow.seq)).all()
    assert names == ["keys.rotated", "keys.kek_destroyed"]
    engine.dispose()


def test_prune_keeps_a_kek_that_still_wraps_data(sqlite_server_yaml: Path) -> None:
    server_yaml = sqlite_server_yaml
    from lineguard.server.keystore import open_envelope, open_keyring
    from lineguard.server.storage import open_storage

    make_test_keyring(server_yaml)
    settings = load_server_config(server_yaml)
    engine, sessions = open_storage(settings)
    open_envelope(settings, sessions).seal(b"x", object_id="r1", category="c")
    keyring = open_keyring(settings)
    old_id = keyring.active().kek_id
    keyring.rotate()  # rotated, but nothing re-wrapped yet
    out = _run("keys", "prune", "--config", str(server_yaml), "--grace-s", "0")
    assert f"kept {old_id}: data keys still wrapped under it" in out
    engine.dispose()


def test_user_mistakes_are_one_line_errors(sqlite_server_yaml: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server_yaml = sqlite_server_yaml
    result = CliRunner().invoke(cli, ["keys", "status", "--config", str(server_yaml)])
    assert result.exit_code == 2
    assert "no keyring at" in result.output and "Traceback" not in result.output
    assert "active KEK kek_" in _run("keys", "init", "--config", str(server_yaml))
    assert "already exists" in _run_fail("keys", "init", "--config", str(server_yaml))
    monkeypatch.setenv(PASS_ENV, "the wrong passphrase entirely")
    result = CliRunner().invoke(cli, ["keys", "rotate", "--config", str(server_yaml)])
    assert result.exit_code == 2
    assert "wrong passphrase" in result.output
