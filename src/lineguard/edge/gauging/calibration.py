"""Camera calibration for gauging: intrinsics, distortion and the part plane in millimetres.

:func:`calibrate` takes views of a calibration board (a checkerboard, or a ChArUco board
whose markers let a partly hidden board count) and returns a :class:`Calibration`:

* the camera matrix and distortion coefficients (``cv2.calibrateCamera``), with the RMS
  reprojection error over every corner of every view;
* the **part plane**: one view shows the board lying where the parts lie; its corners,
  undistorted, give the homography from undistorted pixels to plane millimetres, its
  RMS residual (mm), and the scale at the image centre (``mm_per_px``).

The calibration is written as a folder holding ``calibration.json`` and signed like a
model package (``<folder>.sig``, :func:`lineguard.signing.sign.sign_folder`).
:func:`load_calibration` refuses — :class:`~lineguard.contracts.errors.CalibrationError`,
saying why — a calibration that is missing, unsigned or tampered with, signed by another
key, made for another camera, older than its allowed age, or dated in the future.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lineguard.contracts.errors import CalibrationError, ContractError, InputError
from lineguard.contracts.fields import Name, UtcDatetime
from lineguard.contracts.stages import StageInput
from lineguard.contracts.types import Frame

__all__ = [
    "CALIBRATION_FILE",
    "BoardSpec",
    "Calibration",
    "calibrate",
    "check_age",
    "find_board",
    "load_calibration",
    "next_version",
    "write_calibration",
]

CALIBRATION_FILE = "calibration.json"
#: Fewest views with a detected board that calibrateCamera is given (more is better: 10-20).
MIN_VIEWS = 4

Floats = npt.NDArray[np.float64]


class BoardSpec(BaseModel):
    """The calibration target. ``columns`` x ``rows`` are *inner* corners (checkerboard) or
    squares (ChArUco)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["checkerboard", "charuco"] = "checkerboard"
    columns: int = Field(ge=3, le=100)
    rows: int = Field(ge=3, le=100)
    square_mm: float = Field(gt=0, le=1000)
    marker_mm: float | None = Field(default=None, gt=0, le=1000, description="ChArUco only.")
    dictionary: str = Field(default="DICT_5X5_100", pattern=r"^DICT_[0-9A-Z_]+$", description="ChArUco only.")


class Calibration(BaseModel):
    """One camera's calibration (``calibration.json``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["lineguard-calibration/1"] = "lineguard-calibration/1"
    camera_id: Name
    version: int = Field(ge=1, le=2**31 - 1, description="Raised by one at each recalibration.")
    created_at: UtcDatetime
    image_width: int = Field(gt=0, le=100_000)
    image_height: int = Field(gt=0, le=100_000)
    camera_matrix: list[list[float]] = Field(min_length=3, max_length=3)
    dist_coeffs: list[float] = Field(min_length=4, max_length=14)
    plane_homography: list[list[float]] = Field(
        min_length=3, max_length=3, description="Undistorted pixel → part plane mm."
    )
    mm_per_px: float = Field(gt=0, description="Scale of the part plane at the image centre.")
    reprojection_error_px: float = Field(ge=0, description="RMS over every corner of every view.")
    plane_residual_mm: float = Field(ge=0, description="RMS of the plane homography over its corners.")
    views: int = Field(ge=1)
    board: BoardSpec

    @property
    def matrix(self) -> Floats:
        return np.array(self.camera_matrix, np.float64)

    @property
    def dist(self) -> Floats:
        return np.array(self.dist_coeffs, np.float64)

    @property
    def homography(self) -> Floats:
        return np.array(self.plane_homography, np.float64)


def _gray(image: Frame) -> npt.NDArray[np.uint8]:
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image, np.uint8)


def _checkerboard(board: BoardSpec, gray: npt.NDArray[np.uint8]) -> tuple[Floats, Floats] | None:
    found, corners = cv2.findChessboardCorners(
        gray, (board.columns, board.rows), flags=cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE
    )
    if not found:
        return None
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_MAX_ITER, 100, 1e-4)
    corners = cv2.cornerSubPix(gray, corners, (5, 5), (-1, -1), criteria)
    grid = np.mgrid[0 : board.columns, 0 : board.rows].T.reshape(-1, 2) * board.square_mm
    objects = np.hstack([grid, np.zeros((len(grid), 1))])
    return objects.astype(np.float64), corners.reshape(-1, 2).astype(np.float64)


def _charuco(board: BoardSpec, gray: npt.NDArray[np.uint8]) -> tuple[Floats, Floats] | None:
    dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, board.dictionary))
    target = cv2.aruco.CharucoBoard(
        (board.columns, board.rows), board.square_mm, board.marker_mm or board.square_mm * 0.7, dictionary
    )
    corners, ids, _, _ = cv2.aruco.CharucoDetector(target).detectBoard(gray)
    if ids is None or len(ids) < 6:
        return None
    objects, images = target.matchImagePoints(corners, ids)  # type: ignore[call-overload]
    return objects.reshape(-1, 3).astype(np.float64), images.reshape(-1, 2).astype(np.float64)


def find_board(board: BoardSpec, image: Frame) -> tuple[Floats, Floats] | None:
    """The board's corners (plane mm, image px), or ``None`` when it is not found."""
    gray = _gray(image)
    return _checkerboard(board, gray) if board.kind == "checkerboard" else _charuco(board, gray)


def calibrate(
    views: Sequence[Frame],
    board: BoardSpec,
    *,
    camera_id: str,
    plane_view: int = -1,
    version: int = 1,
    now: datetime | None = None,
) -> Calibration:
    """Calibrate from ``views`` of ``board``; ``views[plane_view]`` shows it on the part plane."""
    if not views:
        msg = "no calibration images given"
        raise CalibrationError(msg)
    sizes = {v.shape[:2] for v in views}
    if len(sizes) > 1:
        msg = f"calibration images differ in size: {sorted(sizes)}; one camera, one resolution"
        raise CalibrationError(msg)
    height, width = views[0].shape[:2]
    found = [find_board(board, v) for v in views]
    missing = [
        f"image {i}: no {board.columns}x{board.rows} {board.kind} found"
        for i, f in enumerate(found)
        if f is None
    ]
    usable = [f for f in found if f is not None]
    if len(usable) < MIN_VIEWS:
        msg = f"the board was found in {len(usable)} of {len(views)} images; at least {MIN_VIEWS} are needed"
        raise CalibrationError(msg, details=missing[:50])
    plane = found[plane_view]
    if plane is None:
        msg = f"the part-plane image (image {plane_view % len(views)}) does not show the whole board"
        raise CalibrationError(msg, details=missing[:50])
    rms, matrix, dist, _, _ = cv2.calibrateCamera(
        [o.astype(np.float32) for o, _ in usable],
        [i.astype(np.float32).reshape(-1, 1, 2) for _, i in usable],
        (width, height),
        None,
        None,
        # k3 only fits noise on the moderate distortion of machine-vision lenses
        flags=cv2.CALIB_FIX_K3,
    )
    objects, pixels = plane
    undistorted = cv2.undistortPoints(pixels.reshape(-1, 1, 2), matrix, dist, P=matrix).reshape(-1, 2)
    homography, _ = cv2.findHomography(undistorted, objects[:, :2], 0)
    if homography is None:
        msg = "the part-plane image's corners do not define a plane (degenerate view)"
        raise CalibrationError(msg)
    mapped = cv2.perspectiveTransform(undistorted.reshape(-1, 1, 2), homography).reshape(-1, 2)
    residual = float(np.sqrt(np.mean(np.sum((mapped - objects[:, :2]) ** 2, axis=1))))
    return Calibration(
        camera_id=camera_id,
        version=version,
        created_at=now or datetime.now(UTC),
        image_width=width,
        image_height=height,
        camera_matrix=np.asarray(matrix).tolist(),
        dist_coeffs=np.asarray(dist).ravel().tolist(),
        plane_homography=(homography / homography[2, 2]).tolist(),
        mm_per_px=_scale_at(
            np.asarray(homography, np.float64),
            np.asarray(matrix, np.float64),
            np.asarray(dist, np.float64),
            (width - 1) / 2,
            (height - 1) / 2,
        ),
        reprojection_error_px=float(rms),
        plane_residual_mm=residual,
        views=len(usable),
        board=board,
    )


def _scale_at(homography: Floats, matrix: Floats, dist: Floats, u: float, v: float) -> float:
    """Millimetres per pixel on the plane around pixel (u, v) (mean of both axes)."""
    pts = np.array([[[u, v]], [[u + 1, v]], [[u, v + 1]]], np.float64)
    und = cv2.undistortPoints(pts, matrix, dist, P=matrix)
    mm = cv2.perspectiveTransform(und, homography).reshape(-1, 2)
    return float((np.linalg.norm(mm[1] - mm[0]) + np.linalg.norm(mm[2] - mm[0])) / 2)


def write_calibration(calibration: Calibration, folder: Path) -> Path:
    """Write ``folder/calibration.json`` (the folder holds nothing else; sign it afterwards)."""
    folder.mkdir(parents=True, exist_ok=True)
    extra = sorted(p.name for p in folder.iterdir() if p.name != CALIBRATION_FILE)
    if extra:
        msg = f"{folder} holds other files ({', '.join(extra[:5])})"
        msg += f"; a calibration folder holds only {CALIBRATION_FILE}"
        raise CalibrationError(msg)
    path = folder / CALIBRATION_FILE
    path.write_text(calibration.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path


def next_version(folder: Path) -> int:
    """One more than the calibration already in ``folder`` (1 for a new folder)."""
    path = folder / CALIBRATION_FILE
    if not path.is_file():
        return 1
    try:
        return int(json.loads(path.read_text(encoding="utf-8"))["version"]) + 1
    except (ValueError, KeyError, TypeError):
        return 1


def load_calibration(
    folder: Path,
    *,
    signer_key: Path,
    camera_id: str,
    max_age_days: int,
    now: datetime | None = None,
) -> tuple[Calibration, StageInput]:
    """The verified calibration of ``camera_id`` and its reference (version + sha256), or a
    :class:`CalibrationError` that says why gauging must not run."""
    from lineguard.signing import (
        KeyVerifier,
        SignerTrust,
        TrustListVerifier,
        VerificationError,
        load_public_key,
    )

    path = folder / CALIBRATION_FILE
    if not path.is_file():
        msg = f"camera {camera_id} is not calibrated: no {CALIBRATION_FILE} in {folder}"
        msg += " (run `lineguard gauge calibrate`)"
        raise CalibrationError(msg)
    try:
        trusted = signer_key.read_bytes()
        verifier: KeyVerifier | TrustListVerifier
        if trusted.lstrip().startswith(b"{"):  # a trust list (signers.json): revocations count
            verifier = TrustListVerifier(SignerTrust.from_bytes(trusted, source=str(signer_key)))
        else:
            verifier = KeyVerifier(load_public_key(trusted))
        verifier.verify_folder(folder, what="calibration")
    except OSError as exc:
        msg = f"calibration signer key {signer_key} cannot be read: {exc.strerror or exc}"
        raise CalibrationError(msg) from None
    except VerificationError as exc:
        msg = f"calibration {folder} refused ({exc.check}): {exc.message}"
        raise CalibrationError(msg, details=exc.details) from None
    except (InputError, ContractError) as exc:  # not a PEM EC public key, not a trust list
        msg = f"calibration signer key {signer_key}: {exc.message}"
        raise CalibrationError(msg) from None
    data = path.read_bytes()
    try:
        calibration = Calibration.model_validate_json(data)
    except ValidationError as exc:
        msg = f"{path} is not a LineGuard calibration ({exc.error_count()} error(s))"
        raise CalibrationError(
            msg, details=[f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()][:20]
        ) from None
    if calibration.camera_id != camera_id:
        msg = f"{path} calibrates camera {calibration.camera_id!r}, not {camera_id!r}"
        msg += ": every camera needs its own calibration"
        raise CalibrationError(msg)
    check_age(calibration, max_age_days=max_age_days, now=now)
    return calibration, StageInput(
        name="calibration", version=calibration.version, sha256=hashlib.sha256(data).hexdigest()
    )


def check_age(calibration: Calibration, *, max_age_days: int, now: datetime | None = None) -> None:
    """Refuse a calibration older than ``max_age_days`` or dated in the future."""
    now = now or datetime.now(UTC)
    made = calibration.created_at
    if made > now + timedelta(minutes=5):
        msg = f"calibration of camera {calibration.camera_id} is dated {made.isoformat()}"
        msg += ", in the future: check the clock"
        raise CalibrationError(msg)
    age = now - made
    if age > timedelta(days=max_age_days):
        msg = (
            f"calibration of camera {calibration.camera_id} (version {calibration.version}) is "
            f"{age.days} days old, more than the allowed {max_age_days}: recalibrate the camera"
        )
        raise CalibrationError(msg)
