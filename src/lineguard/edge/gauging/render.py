"""Rendered images of known geometry: a simulated camera looking at a plane.

The benchmark, the tests and the demo need images whose true dimensions are known to
the micrometre. :class:`SimCamera` is a pinhole camera with lens distortion; a
:class:`PlanePose` places the plane (a calibration board, or the part plane) in front
of it. Each output pixel is traced back to the plane through the distortion model and
the plane's shape is evaluated analytically there, on a ``supersample``² grid per pixel,
so edges are area-correct. Blur, lighting (gain, offset, a gradient) and sensor noise
are applied afterwards, as a real camera would.

The bracket (:data:`BRACKET`) is the demo part: an 80 x 50 mm plate with two 8 mm holes
40 mm apart, a 5 mm hole and a straight bottom edge. :class:`BracketTruth` changes any
of them (a hole bored oversize, a missing hole, a bowed edge) for the tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from lineguard.contracts.types import Frame

__all__ = [
    "BRACKET",
    "BracketTruth",
    "Lighting",
    "PlanePose",
    "SimCamera",
    "board_poses",
    "render_board",
    "render_bracket",
    "render_charuco",
]

Floats = npt.NDArray[np.float64]
#: ``shape(x_mm, y_mm, footprint_mm)`` → coverage in [0, 1] of each sample (its footprint: the
#: plane distance between two samples, for edges drawn with sub-sample precision).
Shape = Callable[[Floats, Floats, float], Floats]


@dataclass(frozen=True)
class SimCamera:
    width: int
    height: int
    focal_px: float
    #: OpenCV's (k1, k2, p1, p2, k3).
    dist: tuple[float, float, float, float, float] = (-0.08, 0.02, 0.0, 0.0, 0.0)

    @property
    def matrix(self) -> Floats:
        return np.array(
            [[self.focal_px, 0, (self.width - 1) / 2], [0, self.focal_px, (self.height - 1) / 2], [0, 0, 1]],
            np.float64,
        )

    @classmethod
    def scaled(cls, width: int, *, fov_mm: float = 130.0, distance_mm: float = 300.0) -> SimCamera:
        """A 4:3 camera that sees ``fov_mm`` across at ``distance_mm`` (same optics, other sensor)."""
        return cls(width, width * 3 // 4, focal_px=width * distance_mm / fov_mm)


@dataclass(frozen=True)
class PlanePose:
    """The plane's pose: rotation (Rodrigues vector) and translation (mm) in camera coordinates."""

    rvec: tuple[float, float, float]
    tvec: tuple[float, float, float]

    def moved_in_plane(self, dx_mm: float, dy_mm: float) -> PlanePose:
        """The same plane with its origin moved to plane point (dx, dy): a board laid on it there."""
        rotation, _ = cv2.Rodrigues(np.array(self.rvec, np.float64))
        t = rotation @ np.array([dx_mm, dy_mm, 0.0]) + np.array(self.tvec)
        return PlanePose(self.rvec, (float(t[0]), float(t[1]), float(t[2])))

    def normalized_to_plane(self) -> Floats:
        """Homography from normalized image coordinates to plane millimetres."""
        rotation, _ = cv2.Rodrigues(np.array(self.rvec, np.float64))
        plane_to_image = np.column_stack([rotation[:, 0], rotation[:, 1], np.array(self.tvec)])
        return np.asarray(np.linalg.inv(plane_to_image), np.float64)


@dataclass(frozen=True)
class Lighting:
    background: float = 25.0
    part: float = 200.0
    #: Brightness change across the image width, as a fraction of (part - background).
    gradient: float = 0.0
    blur_sigma_px: float = 0.8
    noise_sigma: float = 2.0


_RAYS: dict[tuple[SimCamera, int], tuple[Floats, Floats]] = {}


def _lerp_axis(coarse: Floats, positions: Floats, axis: int) -> Floats:
    """Linear interpolation of ``coarse`` along ``axis`` at fractional indices ``positions``."""
    i0 = np.clip(np.floor(positions).astype(np.int64), 0, coarse.shape[axis] - 2)
    w = positions - i0
    a, b = np.take(coarse, i0, axis=axis), np.take(coarse, i0 + 1, axis=axis)
    shape = [1, 1]
    shape[axis] = -1
    return np.asarray(a + (b - a) * w.reshape(shape), np.float64)


def _rays(camera: SimCamera, supersample: int) -> tuple[Floats, Floats]:
    """Normalized, undistorted coordinates of every sub-pixel sample (cached per camera).

    The distortion is smooth: it is inverted exactly on a grid every 4 pixels and
    interpolated linearly in between (under 0.001 px from inverting every sample).
    """
    key = (camera, supersample)
    if key not in _RAYS:
        step = 4
        us = np.arange(-step, camera.width + 2 * step, step, dtype=np.float64)
        vs = np.arange(-step, camera.height + 2 * step, step, dtype=np.float64)
        grid = np.stack(np.meshgrid(us, vs), axis=-1).reshape(-1, 1, 2)
        coarse = cv2.undistortPoints(
            grid,
            camera.matrix,
            np.array(camera.dist),
            criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-12),
        ).reshape(len(vs), len(us), 2)
        sub = 1.0 / supersample
        fine_u = ((np.arange(camera.width * supersample) + 0.5) * sub - 0.5 - us[0]) / step
        fine_v = ((np.arange(camera.height * supersample) + 0.5) * sub - 0.5 - vs[0]) / step
        rows = [_lerp_axis(np.asarray(coarse[..., c], np.float64), fine_u, axis=1) for c in (0, 1)]
        x, y = (_lerp_axis(r, fine_v, axis=0) for r in rows)
        _RAYS.clear()  # one camera at a time: each holds tens of megabytes
        _RAYS[key] = (x, y)
    return _RAYS[key]


def _render(
    camera: SimCamera,
    pose: PlanePose,
    shape: Shape,
    lighting: Lighting,
    rng: np.random.Generator,
    supersample: int,
) -> Frame:
    x, y = _rays(camera, supersample)
    h = pose.normalized_to_plane()
    w = h[2, 0] * x + h[2, 1] * y + h[2, 2]
    px = (h[0, 0] * x + h[0, 1] * y + h[0, 2]) / w
    py = (h[1, 0] * x + h[1, 1] * y + h[1, 2]) / w
    footprint = pose.tvec[2] / camera.focal_px / supersample
    inside = shape(px, py, footprint).astype(np.float32)
    # The lens blurs the scene, then each pixel integrates the light falling on it: blur at
    # the sub-pixel grid first (which also smooths away the grid's own stair-steps), then
    # average each pixel's samples.
    if lighting.blur_sigma_px > 0:
        inside = np.asarray(
            cv2.GaussianBlur(inside, (0, 0), lighting.blur_sigma_px * supersample), np.float32
        )
    coverage = inside.reshape(camera.height, supersample, camera.width, supersample).mean(axis=(1, 3))
    ramp = 1.0 + lighting.gradient * (np.arange(camera.width) / max(camera.width - 1, 1) - 0.5)
    image = lighting.background + (lighting.part - lighting.background) * coverage * ramp[None, :]
    image = image + rng.normal(0.0, lighting.noise_sigma, image.shape)
    gray = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))


# -- a calibration board ------------------------------------------------------------------


def _board_shape(columns: int, rows: int, square_mm: float) -> Shape:
    """A checkerboard with ``columns`` x ``rows`` inner corners, origin at the first inner corner,
    and a one-square white margin (the detector needs it)."""

    def shape(px: Floats, py: Floats, _footprint: float) -> Floats:
        i = np.floor(px / square_mm)
        j = np.floor(py / square_mm)
        on_board = (i >= -1) & (i <= columns - 1) & (j >= -1) & (j <= rows - 1)
        dark = ((i + j) % 2 == 0) & on_board
        margin = (px >= -2 * square_mm) & (px <= (columns + 1) * square_mm)
        margin &= (py >= -2 * square_mm) & (py <= (rows + 1) * square_mm)
        return np.where(dark, 0.0, np.where(margin, 1.0, 0.0))

    return shape


def board_poses(
    count: int, *, distance_mm: float = 300.0, seed: int = 0, board_mm: tuple[float, float]
) -> list[PlanePose]:
    """``count`` varied views of a board (tilted up to ~25°, shifted), for intrinsic calibration."""
    rng = np.random.default_rng(seed)
    poses = []
    for _ in range(count):
        tilt = rng.uniform(-0.45, 0.45, 2)
        spin = rng.uniform(-0.3, 0.3)
        shift = rng.uniform(-20, 20, 2)
        poses.append(
            PlanePose(
                (float(tilt[0]), float(tilt[1]), float(spin)),
                (
                    float(shift[0] - board_mm[0] / 2),
                    float(shift[1] - board_mm[1] / 2),
                    distance_mm + rng.uniform(-40, 40),
                ),
            )
        )
    return poses


def render_board(
    camera: SimCamera,
    pose: PlanePose,
    *,
    columns: int = 9,
    rows: int = 6,
    square_mm: float = 10.0,
    lighting: Lighting | None = None,
    seed: int = 0,
    supersample: int = 3,
) -> Frame:
    light = lighting or Lighting(background=30.0, part=220.0, blur_sigma_px=0.7, noise_sigma=1.5)
    return _render(
        camera, pose, _board_shape(columns, rows, square_mm), light, np.random.default_rng(seed), supersample
    )


def _charuco_shape(columns: int, rows: int, square_mm: float, marker_mm: float, dictionary: str) -> Shape:
    """A ChArUco board (OpenCV's own drawing, sampled at 20 px/mm) with a one-square white margin."""
    px_per_mm = 20
    target = cv2.aruco.CharucoBoard(
        (columns, rows),
        square_mm,
        marker_mm,
        cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, dictionary)),
    )
    width_mm, height_mm = columns * square_mm, rows * square_mm
    texture = target.generateImage((round(width_mm * px_per_mm), round(height_mm * px_per_mm)), marginSize=0)
    values = texture.astype(np.float64) / 255.0

    def shape(px: Floats, py: Floats, _footprint: float) -> Floats:
        u = np.clip(np.floor(px * px_per_mm).astype(np.int64), 0, values.shape[1] - 1)
        v = np.clip(np.floor(py * px_per_mm).astype(np.int64), 0, values.shape[0] - 1)
        on_board = (px >= 0) & (py >= 0) & (px < width_mm) & (py < height_mm)
        margin = (
            (px >= -square_mm)
            & (py >= -square_mm)
            & (px < width_mm + square_mm)
            & (py < height_mm + square_mm)
        )
        return np.asarray(np.where(on_board, values[v, u], np.where(margin, 1.0, 0.0)), np.float64)

    return shape


def render_charuco(
    camera: SimCamera,
    pose: PlanePose,
    *,
    columns: int = 10,
    rows: int = 7,
    square_mm: float = 10.0,
    marker_mm: float = 7.0,
    dictionary: str = "DICT_5X5_100",
    seed: int = 0,
    supersample: int = 3,
) -> Frame:
    """A ChArUco board (origin: its top-left square corner) seen by ``camera``."""
    light = Lighting(background=30.0, part=220.0, blur_sigma_px=0.7, noise_sigma=1.5)
    shape = _charuco_shape(columns, rows, square_mm, marker_mm, dictionary)
    return _render(camera, pose, shape, light, np.random.default_rng(seed), supersample)


# -- the demo bracket -------------------------------------------------------------------------


@dataclass(frozen=True)
class BracketTruth:
    """The true geometry of one bracket, in part millimetres (origin: its top-left corner)."""

    width_mm: float = 80.0
    height_mm: float = 50.0
    holes: dict[str, tuple[float, float, float]] = field(
        default_factory=lambda: {
            "hole_a": (15.0, 25.0, 8.0),
            "hole_b": (55.0, 25.0, 8.0),
            "hole_c": (40.0, 10.0, 5.0),
        }
    )
    #: Bow of the bottom edge at its middle (mm, + outwards): a bent part.
    bottom_bow_mm: float = 0.0
    #: Where the part lies on the plane (mm) and its rotation (degrees).
    at_mm: tuple[float, float] = (-40.0, -25.0)
    angle_deg: float = 0.0

    def with_hole(self, name: str, diameter_mm: float | None) -> BracketTruth:
        holes = dict(self.holes)
        if diameter_mm is None:
            holes.pop(name)
        else:
            holes[name] = (*holes[name][:2], diameter_mm)
        return BracketTruth(
            self.width_mm, self.height_mm, holes, self.bottom_bow_mm, self.at_mm, self.angle_deg
        )

    def shape(self) -> Shape:
        cos, sin = math.cos(math.radians(self.angle_deg)), math.sin(math.radians(self.angle_deg))
        ox, oy = self.at_mm

        def shape(px: Floats, py: Floats, footprint: float) -> Floats:
            dx, dy = px - ox, py - oy
            u, v = cos * dx + sin * dy, -sin * dx + cos * dy  # plane → part coordinates
            bottom = self.height_mm + self.bottom_bow_mm * np.sin(np.pi * np.clip(u / self.width_mm, 0, 1))
            # Signed distance to the plate's outline (negative inside), then the holes cut out;
            # coverage ramps across one sample, so an edge sits where it is, not on a sample row.
            outside = np.maximum(np.maximum(-u, u - self.width_mm), np.maximum(-v, v - bottom))
            for cx, cy, diameter in self.holes.values():
                outside = np.maximum(outside, diameter / 2 - np.hypot(u - cx, v - cy))
            return np.asarray(np.clip(0.5 - outside / footprint, 0.0, 1.0), np.float64)

        return shape


#: The nominal bracket.
BRACKET = BracketTruth()


def render_bracket(
    camera: SimCamera,
    truth: BracketTruth = BRACKET,
    *,
    pose: PlanePose | None = None,
    lighting: Lighting | None = None,
    seed: int = 0,
    supersample: int = 3,
) -> Frame:
    """The bracket on the part plane (by default square to the camera at 300 mm)."""
    plane = pose or PART_PLANE
    return _render(
        camera, plane, truth.shape(), lighting or Lighting(), np.random.default_rng(seed), supersample
    )


#: The part plane of the simulated station: 300 mm away, tilted 3° (no camera is mounted perfectly).
PART_PLANE = PlanePose((0.05, -0.03, 0.0), (0.0, 0.0, 300.0))
