"""A rendered station shared by the gauging tests: a 640 x 480 camera, its calibration from
rendered board views, a signing key, and the demo bracket's spec."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from lineguard.edge.gauging import BoardSpec, Calibration, calibrate, write_calibration
from lineguard.edge.gauging.render import PART_PLANE, SimCamera, board_poses, render_board
from lineguard.signing.sign import sign_folder

CAMERA = SimCamera.scaled(640)
BOARD = BoardSpec(columns=9, rows=6, square_mm=10.0)
CALIBRATED_AT = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

SPEC = """\
part_type: bracket
version: 2
outline: {width_mm: 80, height_mm: 50}
search_mm: 1.5
# The tests' 640 px camera (0.203 mm/px) is coarser than the default allows for this spec's
# 0.1 mm band (MIN_BAND_PX): accepted here, as a spec may, to keep the tests fast.
max_mm_per_px: 0.25
features:
  hole_a: {type: hole, at: [15, 25], diameter_mm: 8}
  hole_b: {type: hole, at: [55, 25], diameter_mm: 8}
  hole_c: {type: hole, at: [40, 10], diameter_mm: 5}
  bottom: {type: edge, from: [5, 50], to: [75, 50]}
measurements:
  - {name: hole_a_diameter, type: diameter, feature: hole_a, nominal: 8.0, tolerance: 0.1}
  - {name: hole_b_diameter, type: diameter, feature: hole_b, nominal: 8.0, tolerance: 0.1}
  - {name: hole_pitch, type: distance, features: [hole_a, hole_b], nominal: 40.0, tolerance: 0.15}
  - {name: hole_c_to_bottom, type: distance, features: [hole_c, bottom], nominal: 40.0, tolerance: 0.2}
  - {name: bottom_straightness, type: straightness, feature: bottom, max: 0.1}
  - {name: hole_c_present, type: presence, feature: hole_c, present: true}
"""


def board_views(camera: SimCamera = CAMERA, count: int = 9) -> list:  # type: ignore[type-arg]
    """``count`` varied board views, then one lying on the part plane (the last)."""
    views = [
        render_board(camera, p, seed=i) for i, p in enumerate(board_poses(count, board_mm=(80, 50), seed=3))
    ]
    views.append(render_board(camera, PART_PLANE.moved_in_plane(-40, -25), seed=99))
    return views


@pytest.fixture(scope="session")
def calibration() -> Calibration:
    return calibrate(board_views(), BOARD, camera_id="cam-1", now=CALIBRATED_AT)


@pytest.fixture(scope="session")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def signed_calibration(calibration: Calibration, key: ec.EllipticCurvePrivateKey, folder: Path) -> Path:
    write_calibration(calibration, folder)
    sign_folder(folder, key)
    return folder


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "bracket.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return path
