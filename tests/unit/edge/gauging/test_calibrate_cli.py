"""``lineguard gauge calibrate`` as an operator runs it: board photos in, a signed calibration out."""

from __future__ import annotations

from pathlib import Path

import cv2
from click.testing import CliRunner, Result

from lineguard.cli.main import cli
from lineguard.edge.gauging import load_calibration
from tests.unit.edge.gauging.conftest import board_views

PASSPHRASE = "gauge cli passphrase 1"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"LINEGUARD_SIGNING_PASSPHRASE": PASSPHRASE})


def test_calibrate_writes_a_signed_versioned_calibration_the_node_accepts(tmp_path: Path) -> None:
    store = tmp_path / "keys"
    assert run("keys", "signing", "create", "--store", str(store), "--label", "metrology").exit_code == 0
    shots = tmp_path / "shots"
    shots.mkdir()
    views = board_views()
    for i, view in enumerate(views[:-1]):
        cv2.imwrite(str(shots / f"view-{i:02d}.png"), view)
    cv2.imwrite(str(shots / "flat.png"), views[-1])
    args = ["gauge", "calibrate", "--camera-id", "cam-1", "--images", str(shots), "--plane-image"]
    args += [str(shots / "flat.png"), "--columns", "9", "--rows", "6", "--square-mm", "10"]
    args += ["--out", str(tmp_path / "calib" / "cam-1"), "--store", str(store)]
    first = run(*args)
    assert first.exit_code == 0, first.output
    assert "calibrated cam-1 version 1 from" in first.output and "reprojection error" in first.output
    again = run(*args)
    assert "version 2" in again.output, again.output
    calibration, ref = load_calibration(
        tmp_path / "calib" / "cam-1", signer_key=store / "signers.json", camera_id="cam-1", max_age_days=1
    )
    assert (calibration.version, ref.version) == (2, 2)
    assert calibration.reprojection_error_px < 0.3


def test_calibrate_without_the_board_in_view_exits_2_with_the_reason(tmp_path: Path) -> None:
    store = tmp_path / "keys"
    assert run("keys", "signing", "create", "--store", str(store)).exit_code == 0
    shots = tmp_path / "shots"
    shots.mkdir()
    blank = board_views(count=1)[0] * 0
    for i in range(5):
        cv2.imwrite(str(shots / f"{i}.png"), blank)
    (shots / "notes.png").write_bytes(b"not an image")
    args = ["gauge", "calibrate", "--camera-id", "cam-1", "--images", str(shots), "--plane-image"]
    args += [
        str(shots / "0.png"),
        "--columns",
        "9",
        "--rows",
        "6",
        "--square-mm",
        "10",
        "--out",
        str(tmp_path / "c"),
    ]
    result = run(*args, "--store", str(store))
    assert result.exit_code == 2
    assert "notes.png is not an image OpenCV can read" in result.output
    (shots / "notes.png").unlink()
    result = run(*args, "--store", str(store))
    assert result.exit_code == 2 and "the board was found in 0 of 5 images" in result.output
    assert not (tmp_path / "c").exists()
