"""Sub-pixel edges and the shapes fitted to them.

An edge point is where a grey-level profile, sampled across the edge with bicubic
interpolation every quarter pixel, crosses the level half-way between its own dark and
bright ends: for a blurred step (a lens's point-spread function is symmetric) that
crossing is the true edge, whatever the blur, and taking the levels from each profile
keeps it there under uneven lighting. The crossing nearest the expected position wins,
so a speck of dust beside the edge is not taken for it.

Circles are fitted algebraically (Kåsa) and refined geometrically (Gauss-Newton on the
distances), lines by total least squares; points further than 3 sigma from a first fit
(a burr, a chip) are dropped once and the fit repeated. Every fit reports its residual
standard deviation and point count, from which the measurement's uncertainty follows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["CircleFit", "Crossings", "LineFit", "crossings", "fit_circle", "fit_line", "sample"]

Floats = npt.NDArray[np.float64]

#: Quarter-pixel steps along a profile.
STEP_PX = 0.25


def _keys(t: Floats) -> list[Floats]:
    """Keys' cubic convolution weights (a = -0.5) of the four taps around fraction ``t``."""
    t2, t3 = t * t, t * t * t
    return [
        -0.5 * t3 + t2 - 0.5 * t,
        1.5 * t3 - 2.5 * t2 + 1.0,
        -1.5 * t3 + 2.0 * t2 + 0.5 * t,
        0.5 * t3 - 0.5 * t2,
    ]


def sample(gray: Floats, xs: Floats, ys: Floats) -> Floats:
    """Bicubic (Keys) samples of ``gray`` at (xs, ys) (any shape); outside the image is NaN.

    Bicubic, not bilinear: linear interpolation between pixels bends a blurred edge's
    profile by an amount that depends on where the edge falls between two pixels, and
    that phase error (up to a tenth of a pixel) would show as a ripple on a straight edge.
    """
    h, w = gray.shape
    x0 = np.floor(xs).astype(np.int64)
    y0 = np.floor(ys).astype(np.int64)
    inside = (x0 >= 1) & (y0 >= 1) & (x0 < w - 2) & (y0 < h - 2)
    x0c, y0c = np.clip(x0, 1, w - 3), np.clip(y0, 1, h - 3)
    wx, wy = _keys(xs - x0c), _keys(ys - y0c)
    values = np.zeros(np.shape(xs))
    for i in range(4):
        row = np.zeros(np.shape(xs))
        for j in range(4):
            row += wx[j] * gray[y0c + i - 1, x0c + j - 1]
        values += wy[i] * row
    return np.where(inside, values, np.nan)


@dataclass(frozen=True, slots=True)
class Crossings:
    #: Edge points (N x 2, pixels); NaN where ``ok`` is false.
    points: Floats
    #: Which profiles had a usable edge (contrast, inside the image).
    ok: npt.NDArray[np.bool_]
    #: The blur of the edge (Gaussian sigma, pixels), from its contrast and steepest slope.
    blur_px: float


def crossings(
    gray: Floats, origins: Floats, directions: Floats, reach_px: float, *, expected_px: float = 0.0
) -> Crossings:
    """Where each profile crosses from dark to bright.

    Profile ``k`` runs from ``origins[k] + (expected_px - reach_px) * directions[k]`` to
    ``… + reach_px``, from the dark side towards the bright side.
    """
    ts = np.arange(expected_px - reach_px, expected_px + reach_px + 1e-9, STEP_PX)
    xs = origins[:, 0:1] + directions[:, 0:1] * ts[None, :]
    ys = origins[:, 1:2] + directions[:, 1:2] * ts[None, :]
    profiles = sample(gray, xs, ys)
    ends = max(2, len(ts) // 8)
    dark = np.nanmean(profiles[:, :ends], axis=1)
    bright = np.nanmean(profiles[:, -ends:], axis=1)
    mid = (dark + bright) / 2
    above = profiles >= mid[:, None]
    rising = ~above[:, :-1] & above[:, 1:]
    points = np.full((len(origins), 2), np.nan)
    ok = np.zeros(len(origins), bool)
    blurs = []
    for k in np.flatnonzero(np.isfinite(mid) & (bright - dark > 12) & rising.any(axis=1)):
        candidates = np.flatnonzero(rising[k])
        j = candidates[np.argmin(np.abs(ts[candidates] - expected_px))]
        a, b = profiles[k, j], profiles[k, j + 1]
        t = ts[j] + (mid[k] - a) / (b - a) * STEP_PX
        points[k] = origins[k] + directions[k] * t
        ok[k] = True
        slope = np.nanmax(np.diff(profiles[k, max(j - 8, 0) : j + 10])) / STEP_PX
        blurs.append((bright[k] - dark[k]) / (math.sqrt(2 * math.pi) * slope) if slope > 0 else np.nan)
    blur = float(np.nanmedian(blurs)) if blurs and np.isfinite(blurs).any() else 0.0
    return Crossings(points, ok, blur)


@dataclass(frozen=True, slots=True)
class CircleFit:
    centre: Floats
    radius: float
    #: Residual standard deviation of the points from the circle.
    sigma: float
    points: int


@dataclass(frozen=True, slots=True)
class LineFit:
    point: Floats
    direction: Floats
    #: Signed distances of the points from the line.
    residuals: Floats
    sigma: float
    points: int


def _kasa(points: Floats) -> tuple[Floats, float]:
    x, y = points[:, 0], points[:, 1]
    a = np.column_stack([x, y, np.ones_like(x)])
    b = x**2 + y**2
    (c0, c1, c2), *_ = np.linalg.lstsq(a, b, rcond=None)
    centre = np.array([c0 / 2, c1 / 2])
    return centre, float(np.sqrt(max(c2 + centre @ centre, 0.0)))


def _refine(points: Floats, centre: Floats, radius: float) -> tuple[Floats, float]:
    for _ in range(5):
        d = points - centre
        r = np.hypot(d[:, 0], d[:, 1])
        jac = np.column_stack([-d[:, 0] / r, -d[:, 1] / r, -np.ones_like(r)])
        step, *_ = np.linalg.lstsq(jac, -(r - radius), rcond=None)
        centre, radius = centre + step[:2], radius + float(step[2])
        if np.abs(step).max() < 1e-9:
            break
    return centre, radius


def _circle(points: Floats) -> CircleFit:
    centre, radius = _refine(points, *_kasa(points))
    res = np.hypot(*(points - centre).T) - radius
    return CircleFit(centre, radius, float(np.std(res, ddof=3)) if len(points) > 3 else 0.0, len(points))


def fit_circle(points: Floats) -> CircleFit | None:
    """Best circle through ``points`` (N x 2, N >= 8), outliers dropped once."""
    if len(points) < 8:
        return None
    first = _circle(points)
    res = np.abs(np.hypot(*(points - first.centre).T) - first.radius)
    keep = res <= max(3 * first.sigma, 1e-9)
    return _circle(points[keep]) if 8 <= keep.sum() < len(points) else first


def _line(points: Floats) -> LineFit:
    mean = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - mean)
    direction = vt[0]
    normal = np.array([-direction[1], direction[0]])
    res = (points - mean) @ normal
    return LineFit(mean, direction, res, float(np.std(res, ddof=2)) if len(points) > 2 else 0.0, len(points))


def fit_line(points: Floats, *, drop_outliers: bool = True) -> LineFit | None:
    """Best line through ``points`` (N x 2, N >= 5); outliers dropped once when asked.

    Straightness keeps every point (a dent *is* the deviation being measured)."""
    if len(points) < 5:
        return None
    first = _line(points)
    if not drop_outliers:
        return first
    keep = np.abs(first.residuals) <= max(3 * first.sigma, 1e-9)
    return _line(points[keep]) if 5 <= keep.sum() < len(points) else first
