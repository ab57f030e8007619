"""Finding 8 of the 2026-12 security review: database, WAL and logs were world-readable.

The attack: any local user reads ``lineguard.db`` (0644 in a 0755 directory), because
``mkdir(mode=0o700, exist_ok=True)`` never narrows a directory that already exists and
SQLite creates its files with the umask. Now ``lineguard server`` checks the data
directory before opening anything and refuses to start, naming each path, or narrows
the modes with ``--fix-permissions``; new files are created private (umask 077).
"""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from lineguard.cli.main import cli
from lineguard.contracts.errors import ConfigError
from lineguard.server.file_modes import check_private_tree, find_wide_modes


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def leaky(tmp_path: Path) -> Path:
    """A data directory as the reviewer found it: SQLite files 0644 in 0755 directories."""
    data = tmp_path / "server"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    with sqlite3.connect(data / "lineguard.db") as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (x)")
        db.execute("INSERT INTO t VALUES (1)")
    for name in ("lineguard.db", "lineguard.db-wal"):
        (data / name).touch()
        (data / name).chmod(0o644)
    (data / "audit").mkdir()
    (data / "audit").chmod(0o755)
    (data / "audit" / "signing-key.sealed").write_bytes(b"x")
    (data / "audit" / "signing-key.sealed").chmod(0o644)
    (data / "audit" / "signing-key.pub.pem").write_bytes(b"public")
    (data / "audit" / "signing-key.pub.pem").chmod(0o644)  # public by design: allowed
    (data / "signing").mkdir(mode=0o700)
    (data / "signing" / "signers.json").write_bytes(b"{}")
    (data / "signing" / "signers.json").chmod(0o644)  # the trust list: public too
    return data


def test_a_world_readable_data_directory_refuses_to_start_naming_each_path(leaky: Path) -> None:
    with pytest.raises(ConfigError, match="refusing to start") as info:
        check_private_tree(leaky)
    named = "\n".join(info.value.details)
    for path in (
        "server: mode 0755",
        "lineguard.db: mode 0644",
        "lineguard.db-wal: mode 0644",
        "audit: mode 0755",
    ):
        assert path in named
    assert "signing-key.sealed: mode 0644, expected 0600" in named
    assert "signing-key.pub.pem" not in named and "signers.json" not in named


def test_the_server_command_refuses_before_opening_anything(leaky: Path, tmp_path: Path) -> None:
    config = tmp_path / "server.yaml"
    config.write_text(yaml.safe_dump({"kind": "server", "site_id": "plant-a", "data_dir": str(leaky)}))
    result = CliRunner().invoke(cli, ["server", "--config", str(config)])
    assert result.exit_code != 0
    assert "refusing to start" in result.output and "--fix-permissions" in result.output
    assert _mode(leaky / "lineguard.db") == 0o644  # untouched without the flag


def test_fix_permissions_narrows_and_keeps_public_files_readable(leaky: Path) -> None:
    assert check_private_tree(leaky, fix=True) == 5
    assert find_wide_modes(leaky) == []
    assert (_mode(leaky), _mode(leaky / "lineguard.db"), _mode(leaky / "audit")) == (0o700, 0o600, 0o700)
    assert _mode(leaky / "audit" / "signing-key.pub.pem") == 0o644
    check_private_tree(leaky)  # passes now


def test_public_files_may_be_read_but_never_written_by_others(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir(mode=0o700)
    pub = data / "signing-key.pub.pem"
    pub.write_bytes(b"k")
    pub.chmod(0o666)
    (problem,) = find_wide_modes(data)
    assert (problem.path, problem.expected) == (pub, 0o644)


def test_a_symbolic_link_refuses_even_with_fix(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir(mode=0o700)
    (data / "lineguard.db").symlink_to(tmp_path / "elsewhere.db")
    with pytest.raises(ConfigError, match="refusing to start") as info:
        check_private_tree(data, fix=True)
    assert "a symbolic link" in info.value.details[0]


def test_a_missing_data_directory_is_created_private(tmp_path: Path) -> None:
    check_private_tree(tmp_path / "new" / "server")
    assert _mode(tmp_path / "new" / "server") == 0o700
