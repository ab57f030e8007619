"""Calibration from rendered board views, and every reason a calibration is refused."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from lineguard.contracts.errors import CalibrationError
from lineguard.edge.gauging import (
    BoardSpec,
    Calibration,
    calibrate,
    load_calibration,
    next_version,
    write_calibration,
)
from lineguard.edge.gauging.render import PART_PLANE
from tests.unit.edge.gauging.conftest import (
    BOARD,
    CALIBRATED_AT,
    CAMERA,
    board_views,
    public_pem,
    signed_calibration,
)


def test_calibration_recovers_the_camera_and_the_part_plane(calibration: Calibration) -> None:
    assert calibration.views >= 6
    assert calibration.reprojection_error_px < 0.3
    assert calibration.plane_residual_mm < 0.05
    k = calibration.matrix
    assert abs(k[0, 0] - CAMERA.focal_px) / CAMERA.focal_px < 0.01
    assert abs(k[0, 2] - (CAMERA.width - 1) / 2) < 3 and abs(k[1, 2] - (CAMERA.height - 1) / 2) < 3
    assert abs(calibration.dist_coeffs[0] - CAMERA.dist[0]) < 0.03
    # The plane is 300 mm away (3° tilt): the true scale at the centre is 300 / f mm per pixel.
    true_scale = PART_PLANE.tvec[2] / CAMERA.focal_px
    assert abs(calibration.mm_per_px - true_scale) / true_scale < 0.005


def test_a_charuco_spec_does_not_match_a_checkerboard_and_too_few_views_are_refused() -> None:
    views = board_views(count=9)
    blank = [np.zeros_like(views[0]) for _ in range(6)]
    with pytest.raises(CalibrationError, match="found in 1 of 7 images") as refused:
        calibrate([*blank, views[-1]], BOARD, camera_id="cam-1")
    assert refused.value.details[0] == "image 0: no 9x6 checkerboard found"
    charuco = BoardSpec(kind="charuco", columns=10, rows=7, square_mm=10, marker_mm=7)
    with pytest.raises(CalibrationError, match="found in 0 of"):
        calibrate(views, charuco, camera_id="cam-1")


def test_images_of_two_sizes_or_a_plane_view_without_the_board_are_refused() -> None:
    views = board_views(count=5)
    with pytest.raises(CalibrationError, match="differ in size"):
        calibrate([*views, views[0][:100]], BOARD, camera_id="cam-1")
    with pytest.raises(CalibrationError, match=r"part-plane image .* does not show the whole board"):
        calibrate([*views, np.zeros_like(views[0])], BOARD, camera_id="cam-1")
    with pytest.raises(CalibrationError, match="no calibration images"):
        calibrate([], BOARD, camera_id="cam-1")


def _load(
    folder: Path, key: Path, *, camera_id: str = "cam-1", now: datetime = CALIBRATED_AT + timedelta(days=1)
) -> Calibration:
    return load_calibration(folder, signer_key=key, camera_id=camera_id, max_age_days=30, now=now)[0]


def test_a_signed_calibration_loads_with_its_version_and_digest(
    calibration: Calibration, signing_key: ec.EllipticCurvePrivateKey, tmp_path: Path
) -> None:
    folder = signed_calibration(calibration, signing_key, tmp_path / "cal")
    key = public_pem(signing_key, tmp_path / "signer.pem")
    loaded, ref = load_calibration(
        folder, signer_key=key, camera_id="cam-1", max_age_days=30, now=CALIBRATED_AT + timedelta(days=1)
    )
    assert loaded == calibration
    assert (ref.name, ref.version) == ("calibration", 1) and len(ref.sha256) == 64
    assert next_version(folder) == 2 and next_version(tmp_path / "new") == 1


def test_every_untrustworthy_calibration_is_refused_with_its_reason(
    calibration: Calibration, signing_key: ec.EllipticCurvePrivateKey, tmp_path: Path
) -> None:
    key = public_pem(signing_key, tmp_path / "signer.pem")
    with pytest.raises(CalibrationError, match="camera cam-1 is not calibrated"):
        _load(tmp_path / "nowhere", key)
    unsigned = tmp_path / "unsigned"
    write_calibration(calibration, unsigned)
    with pytest.raises(CalibrationError, match=r"refused \(unsigned\)"):
        _load(unsigned, key)
    folder = signed_calibration(calibration, signing_key, tmp_path / "cal")
    other_key = public_pem(ec.generate_private_key(ec.SECP256R1()), tmp_path / "other.pem")
    with pytest.raises(CalibrationError, match=r"refused \(unknown_key\)"):
        _load(folder, other_key)
    with pytest.raises(CalibrationError, match="calibrates camera 'cam-1', not 'cam-2'"):
        _load(folder, key, camera_id="cam-2")
    with pytest.raises(CalibrationError, match="31 days old, more than the allowed 30: recalibrate"):
        _load(folder, key, now=CALIBRATED_AT + timedelta(days=31, hours=1))
    with pytest.raises(CalibrationError, match="in the future"):
        _load(folder, key, now=CALIBRATED_AT - timedelta(days=2))
    with pytest.raises(CalibrationError, match="cannot be read"):
        _load(folder, tmp_path / "no-such-key.pem")
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(CalibrationError, match="not a PEM public key"):
        _load(folder, tmp_path / "junk.pem")
    # Someone edits the scale by hand: the signature no longer covers the file.
    path = folder / "calibration.json"
    doc = json.loads(path.read_text())
    doc["mm_per_px"] *= 1.01
    path.write_text(json.dumps(doc))
    with pytest.raises(CalibrationError, match=r"refused \(tampered\)"):
        _load(folder, key)


def test_a_calibration_folder_holds_only_the_calibration(calibration: Calibration, tmp_path: Path) -> None:
    (tmp_path / "cal").mkdir()
    (tmp_path / "cal" / "notes.txt").write_text("x")
    with pytest.raises(CalibrationError, match="holds other files"):
        write_calibration(calibration, tmp_path / "cal")


def test_the_scale_is_consistent_with_the_board(calibration: Calibration) -> None:
    # One square of the board on the part plane is 10 mm: about 10 / mm_per_px pixels.
    assert math.isclose(10 / calibration.mm_per_px, 10 * CAMERA.focal_px / 300, rel_tol=0.01)


def test_a_charuco_board_calibrates_the_camera_and_the_part_plane() -> None:
    from lineguard.edge.gauging.render import board_poses, render_charuco

    views = [
        render_charuco(CAMERA, p, seed=i) for i, p in enumerate(board_poses(7, board_mm=(100, 70), seed=5))
    ]
    views.append(render_charuco(CAMERA, PART_PLANE.moved_in_plane(-50, -35), seed=9))
    charuco = BoardSpec(kind="charuco", columns=10, rows=7, square_mm=10, marker_mm=7)
    result = calibrate(views, charuco, camera_id="cam-1")
    assert result.views >= 6 and result.reprojection_error_px < 0.3
    true_scale = PART_PLANE.tvec[2] / CAMERA.focal_px
    assert abs(result.mm_per_px - true_scale) / true_scale < 0.005
    assert result.board.kind == "charuco"
