"""Sub-pixel edges and the shapes fitted to them.

Each edge point comes from a grey-level profile sampled across the edge with bicubic
interpolation every quarter pixel, in two steps:

1. **find** — where the profile crosses the level half-way between its own dark and
   bright ends; the crossing nearest the expected position wins, so a speck of dust
   beside the edge is not taken for it;
2. **fit** — a blurred step on a sloping background, ``a + g·u + c·Φ(u/σ)`` with
   ``u = t − e``, fitted by least squares (Gauss-Newton) to every sample within
   :data:`FIT_HALF_PX` of the crossing. The edge is ``e``. The sloping background is what
   uneven light does over a few pixels, so it moves the edge no more than a flat one; and
   the fit weighs the whole ramp instead of the two samples around a crossing, which
   cuts the noise on each point by a third at 640 px (docs/benchmarks.md). The blur σ is
   fitted once per feature (the median over its profiles) and then held, so each profile
   fits only its position and three linear terms. A fit that runs away (more than
   :data:`FIT_MAX_SHIFT_PX` from the crossing, or a step darker on the bright side)
   keeps no point: a defect is not smoothed into an edge.

For a blurred step (a lens's point-spread function is symmetric) both the half-level
crossing and the fitted step sit on the true edge, whatever the blur.

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
#: Samples within this distance of the first crossing take part in the step fit (pixels).
FIT_HALF_PX = 8.0
#: A fitted edge further than this from its crossing is dropped (pixels).
FIT_MAX_SHIFT_PX = 1.5
#: Gauss-Newton iterations (the step is small: the crossing is already within a pixel).
FIT_ITERATIONS = 4
#: Smallest step (grey levels) taken for an edge.
MIN_CONTRAST = 12.0


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
    #: The blur of the edge (Gaussian sigma, pixels): fitted, the median over the profiles.
    blur_px: float


def _half_level(
    profiles: Floats, ts: Floats, origins: Floats, directions: Floats, expected_px: float
) -> Crossings:
    """Where each profile (sampled at ``ts``) crosses the level half-way between its ends."""
    ends = max(2, len(ts) // 8)
    dark = np.nanmean(profiles[:, :ends], axis=1)
    bright = np.nanmean(profiles[:, -ends:], axis=1)
    mid = (dark + bright) / 2
    above = profiles >= mid[:, None]
    rising = ~above[:, :-1] & above[:, 1:]
    points = np.full((len(origins), 2), np.nan)
    ok = np.zeros(len(origins), bool)
    blurs = []
    for k in np.flatnonzero(np.isfinite(mid) & (bright - dark > MIN_CONTRAST) & rising.any(axis=1)):
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


def crossings(
    gray: Floats, origins: Floats, directions: Floats, reach_px: float, *, expected_px: float = 0.0
) -> Crossings:
    """Where each profile steps from dark to bright (found, then fitted: see the module doc).

    Profile ``k`` runs from ``origins[k] + (expected_px - reach_px) * directions[k]`` to
    ``… + reach_px``, from the dark side towards the bright side.
    """
    ts = np.arange(expected_px - reach_px, expected_px + reach_px + 1e-9, STEP_PX)
    xs = origins[:, 0:1] + directions[:, 0:1] * ts[None, :]
    ys = origins[:, 1:2] + directions[:, 1:2] * ts[None, :]
    profiles = sample(gray, xs, ys)
    first = _half_level(profiles, ts, origins, directions, expected_px)
    rows = np.flatnonzero(first.ok)
    if len(rows) == 0:
        return first
    at = np.einsum("nk,nk->n", first.points[rows] - origins[rows], directions[rows])
    window = (np.abs(ts[None, :] - at[:, None]) <= FIT_HALF_PX) & np.isfinite(profiles[rows])
    values = np.where(window, profiles[rows], 0.0)
    _, sigmas, _ = _fit_steps(values, window, ts, at, np.full(len(rows), max(first.blur_px, 0.5)), True)
    blur = float(np.median(sigmas))
    edge, _, contrast = _fit_steps(values, window, ts, at, np.full(len(rows), blur), False)
    good = (np.abs(edge - at) <= FIT_MAX_SHIFT_PX) & (contrast > MIN_CONTRAST)
    points = np.full_like(first.points, np.nan)
    ok = np.zeros_like(first.ok)
    points[rows[good]] = origins[rows[good]] + directions[rows[good]] * edge[good, None]
    ok[rows[good]] = True
    return Crossings(points, ok, blur)


def _normal_cdf(x: Floats) -> Floats:
    """Φ(x), Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7; numpy has no erf)."""
    z = np.abs(x) / math.sqrt(2)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t
    return np.asarray(0.5 * (1.0 + np.sign(x) * (1.0 - poly * np.exp(-z * z))), np.float64)


def _fit_steps(
    values: Floats, window: npt.NDArray[np.bool_], ts: Floats, edge: Floats, sigma: Floats, fit_sigma: bool
) -> tuple[Floats, Floats, Floats]:
    """Gauss-Newton fit of ``a + g·u + c·Φ(u/σ)``, ``u = t − e``, to each row of ``values``.

    Only samples where ``window`` holds count. Returns (e, σ, c) per row; σ moves only when
    ``fit_sigma``. The linear terms are solved exactly at each step, e (and σ) by one
    Gauss-Newton step on the residual (variable projection).
    """
    edge, sigma = edge.copy(), sigma.copy()
    weights = window.astype(np.float64)
    contrast = np.zeros(len(edge))
    for _ in range(FIT_ITERATIONS):
        u = ts[None, :] - edge[:, None]
        z = u / sigma[:, None]
        density = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        linear = np.stack([np.ones_like(u), u, _normal_cdf(z)], axis=2) * weights[:, :, None]
        coef = _solve(linear, values)
        contrast = coef[:, 2]
        residual = values - np.einsum("ntk,nk->nt", linear, coef)
        d_edge = -(coef[:, 1:2] + coef[:, 2:3] * density / sigma[:, None]) * weights
        extra = [d_edge]
        if fit_sigma:
            extra.append(-coef[:, 2:3] * density * z / sigma[:, None] * weights)
        step = _solve(np.concatenate([linear, np.stack(extra, axis=2)], axis=2), residual)
        edge = edge + np.clip(step[:, 3], -0.5, 0.5)
        if fit_sigma:
            sigma = np.clip(sigma + np.clip(step[:, 4], -0.3, 0.3), 0.3, 6.0)
    return edge, sigma, contrast


def _solve(design: Floats, values: Floats) -> Floats:
    """Least-squares coefficients of each row's design (N x T x K) against its values (N x T)."""
    normal = np.einsum("ntk,ntl->nkl", design, design) + 1e-9 * np.eye(design.shape[2])
    return np.asarray(np.linalg.solve(normal, np.einsum("ntk,nt->nk", design, values)[..., None])[..., 0])


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
