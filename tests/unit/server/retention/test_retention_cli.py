"""``lineguard retention``: hold, sweep, release, status against a real database file."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from click.testing import CliRunner

from lineguard.cli.main import cli


def _run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def test_hold_sweep_release_status(tmp_path: Path) -> None:
    config = tmp_path / "server.yaml"
    config.write_text(
        yaml.safe_dump({"kind": "server", "site_id": "plant-a", "data_dir": str(tmp_path / "d")})
    )
    out = _run(
        "retention",
        "hold",
        "--config",
        str(config),
        "--category",
        "alerts",
        "--record",
        "alr_9",
        "--reason",
        "case 7",
    )
    hold_id = re.match(r"(hold_\w+) placed on alerts/alr_9", out).group(1)  # type: ignore[union-attr]
    assert "inspection_events 0 deleted" in _run("retention", "sweep", "--config", str(config))
    status = _run("retention", "status", "--config", str(config))
    assert "active legal holds: 1" in status and hold_id in status and " ok " in status
    assert f"{hold_id} released" in _run(
        "retention", "release", "--config", str(config), hold_id, "--reason", "done"
    )
    assert "already released" in _run(
        "retention", "release", "--config", str(config), hold_id, "--reason", "x", code=2
    )
    assert "unknown data category" in _run(
        "retention",
        "hold",
        "--config",
        str(config),
        "--category",
        "nope",
        "--record",
        "x",
        "--reason",
        "y",
        code=2,
    )
