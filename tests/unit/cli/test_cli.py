"""The CLI shell: only working commands are listed, user mistakes never show a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lineguard.cli.main import COMMANDS, cli

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_help_lists_only_commands_whose_module_exists() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.output.split("Commands:")[1].strip().splitlines()]
    assert "config" in listed
    for name in listed:
        assert name in COMMANDS


def _walk(group: object, prefix: list[str]) -> list[list[str]]:
    import click

    ctx = click.Context(cli)
    assert isinstance(group, click.Group)
    paths = []
    for name in group.list_commands(ctx):
        sub = group.get_command(ctx, name)
        paths.append([*prefix, name])
        if isinstance(sub, click.Group):
            paths += _walk(sub, [*prefix, name])
    return paths


def test_every_command_has_help_with_an_example() -> None:
    import click

    for path in _walk(cli, []):
        result = CliRunner().invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        ctx = click.Context(cli)
        command: click.Command | None = cli
        for name in path:
            assert isinstance(command, click.Group)
            command = command.get_command(ctx, name)
        if not isinstance(command, click.Group):
            assert "Example" in result.output, f"`lineguard {' '.join(path)} --help` has no worked example"


def test_config_check_reports_each_error_and_exits_non_zero(tmp_path: Path) -> None:
    bad = tmp_path / "edge.yaml"
    text = (EXAMPLES / "edge.yaml").read_text(encoding="utf-8").replace("width: 640", "width: -5")
    bad.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["config", "check", str(bad)])
    assert result.exit_code == 2
    assert "cameras[0].roi.width: must be > 0" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("name", ["edge.yaml", "server.yaml"])
def test_config_check_accepts_examples(name: str) -> None:
    result = CliRunner().invoke(cli, ["config", "check", str(EXAMPLES / name)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(")")


def test_installed_entry_point_gives_one_line_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    out = subprocess.run(
        [sys.executable, "-m", "lineguard.cli", "config", "check", str(missing)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: {missing}: cannot read config (No such file or directory)"
