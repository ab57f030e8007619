"""``lineguard backup``: create → verify → restore through the CLI; a damaged archive is a one-line error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from lineguard.cli.main import cli
from lineguard.config import load_server_config
from tests.unit.crypto.conftest import make_test_keyring


def _run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def _config(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    config = {
        "kind": "server",
        "site_id": "plant-a",
        "data_dir": str(tmp_path / name),
        "keyring": {"passphrase": {"env": "LG_TEST_BK_KEYRING"}},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def test_create_verify_restore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lineguard.server.audit.models import AuditEntryRow
    from lineguard.server.storage import open_storage

    monkeypatch.setenv("LG_TEST_BK_KEYRING", "keyring passphrase, long enough")
    monkeypatch.setenv("LINEGUARD_BACKUP_PASSPHRASE", "backup passphrase, also long")
    source = _config(tmp_path, "source")
    make_test_keyring(source)
    archive = tmp_path / "a.lgbackup"
    assert "written:" in _run("backup", "create", "--config", str(source), "--out", str(archive))
    assert "ok: backup bak_" in _run("backup", "verify", str(archive))
    target = _config(tmp_path, "target")
    assert "restored backup bak_" in _run("backup", "restore", str(archive), "--config", str(target))
    engine, sessions = open_storage(load_server_config(target))
    with sessions() as session:
        names = session.scalars(select(AuditEntryRow.name).order_by(AuditEntryRow.seq)).all()
    engine.dispose()
    assert names == ["backup.restored"]  # the source's "backup.created" came after its snapshot
    assert (tmp_path / "target" / "keys" / "keyring.json").exists()

    damaged = tmp_path / "damaged.lgbackup"
    blob = bytearray(archive.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    damaged.write_bytes(bytes(blob))
    assert "error:" in _run("backup", "verify", str(damaged), code=2)
    monkeypatch.setenv("LINEGUARD_BACKUP_PASSPHRASE", "wrong")
    assert "passphrase is wrong" in _run("backup", "verify", str(archive), code=2)
    monkeypatch.delenv("LINEGUARD_BACKUP_PASSPHRASE")
    assert "LINEGUARD_BACKUP_PASSPHRASE" in _run("backup", "verify", str(archive), code=2)
