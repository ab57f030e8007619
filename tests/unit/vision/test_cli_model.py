"""``lineguard model train`` / ``eval`` through the CLI: output, JSON, report, clean errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lineguard.cli.main import cli
from lineguard.vision.train import TrainResult

# Training happens in the first test that needs it; a loaded 2-core CI machine needs minutes.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_train_writes_a_package_and_prints_its_metadata(synthetic_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    args = ["model", "train", "--data", str(synthetic_dataset), "--out", str(out), "--image-size", "128"]
    result = CliRunner().invoke(cli, [*args, "--threads", "2", "--model-id", "cli-test", "--json"])
    assert result.exit_code == 0, result.output
    meta = json.loads(result.output)
    assert meta["model_id"] == "cli-test"
    assert (out / "model.onnx").is_file()


def test_eval_prints_metrics_and_writes_the_report(
    trained: TrainResult, synthetic_dataset: Path, tmp_path: Path
) -> None:
    report = tmp_path / "r" / "eval.html"
    args = ["model", "eval", "--model", str(trained.package.path), "--data", str(synthetic_dataset)]
    result = CliRunner().invoke(cli, [*args, "--report", str(report), "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "image AUROC" in result.output and "hole" in result.output and "latency median" in result.output
    assert report.is_file() and report.with_suffix(".json").is_file()
    assert "<svg" in report.read_text()


def test_user_mistakes_are_one_line_errors(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["model", "train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "error:" in result.output and "does not exist" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(
        cli, ["model", "eval", "--model", str(tmp_path / "none"), "--data", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "model package" in result.output and "does not exist" in result.output


def test_unknown_provider_is_refused(trained: TrainResult, synthetic_dataset: Path) -> None:
    args = ["model", "eval", "--model", str(trained.package.path), "--data", str(synthetic_dataset)]
    result = CliRunner().invoke(cli, [*args, "--providers", "warp-drive"])
    assert result.exit_code == 2
    assert "not available" in result.output


@pytest.mark.parametrize(
    ("goal", "match"),
    [
        (["--target-frr", "0"], "--target-frr"),
        (["--target-frr", "1.5"], "--target-frr"),
        (["--target-frr", "0.02", "--min-recall", "0.9"], "one operating goal at a time"),
    ],
)
def test_impossible_operating_goals_are_one_line_errors(
    synthetic_dataset: Path, tmp_path: Path, goal: list[str], match: str
) -> None:
    """Refused before any training: out of range, or both goals at once."""
    out = tmp_path / "pkg"
    args = ["model", "train", "--data", str(synthetic_dataset), "--out", str(out), *goal]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0
    assert match in result.output and "Traceback" not in result.output
    assert not out.exists()
