"""Apply a measurement spec to one image: find the part, its features, and measure them.

1. **Datum.** The part (bright on a dark background, Otsu threshold inside the ROI) is
   the largest blob; its outline, carried to plane millimetres, gives the minimum-area
   rectangle whose long side is the part's x axis and whose top-left corner is the
   origin of the spec's coordinates. It only *places* the features (to a fraction of a
   millimetre); no measurement depends on it.
2. **Features.** A hole is the dark blob nearest its nominal centre (within
   ``search_mm``); rays from its centre give one sub-pixel edge point per pixel of
   circumference (:mod:`.edges`), carried to millimetres and fitted with a circle. An
   edge is sampled every pixel along its nominal line, across it from outside to inside.
3. **Measurements**, each with its expanded uncertainty (k = 2) from three sources: the
   fit (residual sigma over the points), the calibration's scale (its plane residual
   over its corners) and a fixed edge-model term (:data:`EDGE_MODEL_PX`: what the
   sub-pixel edge can be off by under blur and uneven light; benchmark in
   docs/benchmarks.md).

**Several views of one part** (:meth:`Gauge.read_views`: the frames it was fully in view
in, as it crossed the camera). Each view is located; the views are ranked by how far the
part's centre lies from the calibration's principal point (the centre of the calibrated
field: least lens distortion and perspective left over), and the ``max_views`` most
centred are measured. The most centred view gives the reasons (a hole missing there is
missing); each length is the **mean** over the views that measured it — sensor noise
falls by √n (bench/bench_gauging_views.py) — with its uncertainty the mean of theirs (not
divided by √n: the scale and edge-model terms are the same in every view), and its
tolerance judged on the mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from lineguard.contracts.stages import Measurement, StageReason
from lineguard.edge.gauging.calibration import Calibration
from lineguard.edge.gauging.edges import CircleFit, LineFit, crossings, fit_circle, fit_line
from lineguard.edge.gauging.plane import PlaneMap
from lineguard.edge.gauging.spec import (
    DiameterCheck,
    DistanceCheck,
    EdgeFeature,
    HoleFeature,
    MeasurementSpec,
    PresenceCheck,
    StraightnessCheck,
)

__all__ = ["EDGE_MODEL_PX", "MAX_VIEWS", "STRAIGHTNESS_FILTER_MM", "Datum", "Gauge", "Reading"]

Floats = npt.NDArray[np.float64]

#: Systematic edge-location uncertainty of the sub-pixel edge (pixels, standard uncertainty).
EDGE_MODEL_PX = 0.05
#: Views of one part measured and averaged at most (the most centred ones).
MAX_VIEWS = 5
#: Length of edge the straightness deviations are averaged over (the short-wave filter).
STRAIGHTNESS_FILTER_MM = 1.0


@dataclass(frozen=True, slots=True)
class Datum:
    """The part's frame on the plane: origin and unit axes (plane mm), and its outline size."""

    origin: Floats
    ex: Floats
    ey: Floats
    size_mm: tuple[float, float]

    def to_plane(self, point: tuple[float, float]) -> Floats:
        return np.asarray(self.origin + point[0] * self.ex + point[1] * self.ey, np.float64)

    @property
    def centre(self) -> Floats:
        return self.to_plane((self.size_mm[0] / 2, self.size_mm[1] / 2))


@dataclass(frozen=True, slots=True)
class Reading:
    """What one image gave: the measurements and the reasons it did not pass."""

    measurements: list[Measurement]
    reasons: list[StageReason]
    #: The views it rests on (indices into the images read, most centred first); not part of
    #: what was read, so two readings of the same values compare equal whichever views gave them.
    views: tuple[int, ...] = field(default=(0,), compare=False)


def _reason(code: str, subject: str, message: str) -> StageReason:
    return StageReason(code=code, subject=subject, message=message[:300])


class Gauge:
    """Measures ``spec`` on images of a camera with ``calibration``."""

    def __init__(self, spec: MeasurementSpec, calibration: Calibration) -> None:
        self.spec, self.calibration = spec, calibration
        self.plane = PlaneMap(calibration)
        board = calibration.board
        corners = board.columns * board.rows
        extent = math.hypot(board.columns - 1, board.rows - 1) * board.square_mm
        #: Relative standard uncertainty of lengths from the calibration's scale.
        self.scale_rel = calibration.plane_residual_mm / math.sqrt(corners) / extent
        self.edge_mm = EDGE_MODEL_PX * calibration.mm_per_px

    # -- datum -----------------------------------------------------------------------

    def locate(self, gray: Floats, roi: tuple[int, int, int, int]) -> Datum | StageReason:
        x, y, w, h = roi
        crop = np.clip(gray[y : y + h, x : x + w], 0, 255).astype(np.uint8)
        _, mask = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        if not contours:
            return _reason("part_not_found", "part", "no part in the ROI")
        contour = max(contours, key=cv2.contourArea).reshape(-1, 2)
        if contour[:, 0].min() <= 0 or contour[:, 1].min() <= 0 or contour[:, 0].max() >= w - 1:
            return _reason("part_not_found", "part", "the part touches the ROI's edge: not fully in view")
        if contour[:, 1].max() >= h - 1:
            return _reason("part_not_found", "part", "the part touches the ROI's edge: not fully in view")
        outline = self.plane.to_mm(contour.astype(np.float64) + np.array([x, y], np.float64))
        centre, _, _ = cv2.minAreaRect(outline.astype(np.float32))
        box = cv2.boxPoints(cv2.minAreaRect(outline.astype(np.float32))).astype(np.float64)
        sides = [box[1] - box[0], box[2] - box[1]]
        long, short = sorted(sides, key=lambda v: -float(np.hypot(*v)))
        width, height = float(np.hypot(*long)), float(np.hypot(*short))
        want = self.spec.outline
        if (
            abs(width - want.width_mm) > 0.1 * want.width_mm
            or abs(height - want.height_mm) > 0.1 * want.height_mm
        ):
            return _reason(
                "part_not_found",
                "part",
                f"the part in view is {width:.1f} x {height:.1f} mm, not the spec's "
                f"{want.width_mm:g} x {want.height_mm:g} mm ({self.spec.part_type})",
            )
        ex = long / width
        ex = -ex if ex[0] < 0 else ex
        ey = np.array([-ex[1], ex[0]])
        origin = np.array(centre, np.float64) - width / 2 * ex - height / 2 * ey
        return Datum(origin, ex, ey, (width, height))

    # -- features ----------------------------------------------------------------------

    def hole(self, gray: Floats, datum: Datum, feature: HoleFeature) -> CircleFit | None:
        """The fitted hole (plane mm), or ``None`` when there is no hole where it should be."""
        centre_px = self.plane.to_px(datum.to_plane(feature.at)[None, :])[0]
        r_px = feature.diameter_mm / 2 / self.calibration.mm_per_px
        half = int(r_px + self.spec.search_mm / self.calibration.mm_per_px + 3)
        cx, cy = round(float(centre_px[0])), round(float(centre_px[1]))
        x0, y0 = max(cx - half, 0), max(cy - half, 0)
        window = np.clip(gray[y0 : cy + half + 1, x0 : cx + half + 1], 0, 255).astype(np.uint8)
        if window.size == 0:
            return None
        _, dark = cv2.threshold(window, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
        n, _, stats, centroids = cv2.connectedComponentsWithStats(dark)
        wh, ww = dark.shape
        best: tuple[float, int] | None = None
        for i in range(1, n):
            left, top, bw, bh, area = stats[i]
            enclosed = left > 0 and top > 0 and left + bw < ww and top + bh < wh
            if not enclosed or area < 0.3 * math.pi * r_px**2:
                continue
            distance = float(np.hypot(*(centroids[i] + (x0, y0) - centre_px)))
            if best is None or distance < best[0]:
                best = (distance, i)
        if best is None:
            return None
        i = best[1]
        coarse = centroids[i] + (x0, y0)
        radius = math.sqrt(stats[i, cv2.CC_STAT_AREA] / math.pi)
        rays = int(np.clip(2 * math.pi * radius, 64, 1440))
        angles = np.linspace(0, 2 * math.pi, rays, endpoint=False)
        directions = np.column_stack([np.cos(angles), np.sin(angles)])
        origins = np.repeat(coarse[None, :], rays, axis=0)
        reach = float(np.clip(0.5 * radius, 3.0, max(radius - 1.0, 3.0)))
        found = crossings(gray, origins, directions, reach, expected_px=radius)
        if found.ok.sum() < rays // 2:
            return None
        fit = fit_circle(self.plane.to_mm(found.points[found.ok]))
        if fit is None:
            return None
        # Blur moves the half-level contour of a curved edge towards its centre of curvature
        # by sigma^2 / 2r (a straight edge does not move): put the hole's edge back.
        r_px = fit.radius / self.calibration.mm_per_px
        shift_mm = found.blur_px**2 / (2 * r_px) * self.calibration.mm_per_px
        return CircleFit(fit.centre, fit.radius + shift_mm, fit.sigma, fit.points)

    def edge(self, gray: Floats, datum: Datum, feature: EdgeFeature) -> LineFit | None:
        start, end = datum.to_plane(feature.start), datum.to_plane(feature.end)
        length = float(np.hypot(*(end - start)))
        along = (end - start) / length
        normal = np.array([-along[1], along[0]])
        if normal @ (datum.centre - start) < 0:
            normal = -normal  # profiles run from outside (dark) to inside (bright)
        steps = max(int(length / self.calibration.mm_per_px), 5)
        nominal = start + np.linspace(0, 1, steps)[:, None] * (end - start)
        px = self.plane.to_px(nominal)
        ahead = self.plane.to_px(nominal + normal * 0.5)
        directions = ahead - px
        directions /= np.hypot(directions[:, 0], directions[:, 1])[:, None]
        reach = self.spec.search_mm / self.calibration.mm_per_px
        found = crossings(gray, px, directions, reach)
        if found.ok.sum() < steps // 2:
            return None
        return fit_line(self.plane.to_mm(found.points[found.ok]), drop_outliers=False)

    # -- measurements -------------------------------------------------------------------

    def _u_centre(self, fit: CircleFit) -> float:
        return fit.sigma * math.sqrt(2 / fit.points)

    @staticmethod
    def _gray(image: npt.NDArray[np.uint8]) -> Floats:
        return (cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image).astype(np.float64)

    def read(self, image: npt.NDArray[np.uint8], roi: tuple[int, int, int, int]) -> Reading:
        gray = self._gray(image)
        located = self.locate(gray, roi)
        if isinstance(located, StageReason):
            return Reading([], [located])
        return self._read_at(gray, located)

    def off_centre_px(self, datum: Datum) -> float:
        """How far the part's centre lies from the principal point (the calibrated field's centre), px."""
        centre = self.plane.to_px(datum.centre[None, :])[0]
        matrix = self.calibration.matrix
        return float(np.hypot(centre[0] - matrix[0, 2], centre[1] - matrix[1, 2]))

    def centred_order(
        self, images: list[npt.NDArray[np.uint8]], roi: tuple[int, int, int, int]
    ) -> tuple[list[tuple[int, Floats, Datum]], StageReason | None]:
        """The views the part is fully in, most centred first (index, grey image, datum), and
        the first view's reason when it is in none."""
        located: list[tuple[float, int, Floats, Datum]] = []
        first: StageReason | None = None
        for i, image in enumerate(images):
            gray = self._gray(image)
            found = self.locate(gray, roi)
            if isinstance(found, StageReason):
                first = first or found
                continue
            located.append((self.off_centre_px(found), i, gray, found))
        located.sort(key=lambda v: (v[0], v[1]))
        return [(i, gray, datum) for _, i, gray, datum in located], (None if located else first)

    def read_views(
        self,
        images: list[npt.NDArray[np.uint8]],
        roi: tuple[int, int, int, int],
        *,
        max_views: int = MAX_VIEWS,
    ) -> Reading:
        """One part from several views (module docstring): the most centred view's reasons,
        each length averaged over the ``max_views`` most centred views."""
        ordered, reason = self.centred_order(images, roi)
        if not ordered:
            return Reading([], [reason] if reason is not None else [], ())
        used = ordered[:max_views]
        fused = self._fuse([self._read_at(gray, datum) for _, gray, datum in used])
        return Reading(fused.measurements, fused.reasons, tuple(i for i, _, _ in used))

    def _fuse(self, readings: list[Reading]) -> Reading:
        base = readings[0]
        if len(readings) == 1:
            return base
        checks = {c.name: c for c in self.spec.measurements}
        measurements: list[Measurement] = []
        reasons = [r for r in base.reasons if r.code != "out_of_tolerance"]
        for m in base.measurements:
            same = [x for r in readings for x in r.measurements if x.characteristic == m.characteristic]
            if m.unit == "count" or len(same) < 2:
                fused = m  # presence is the most centred view's; a length one view measured stays
            else:
                value = float(np.mean([x.value for x in same]))
                low = -math.inf if m.lower_limit is None else m.lower_limit
                high = math.inf if m.upper_limit is None else m.upper_limit
                fused = m.model_copy(
                    update={
                        "value": round(value, 5),
                        "uncertainty": round(float(np.mean([x.uncertainty for x in same])), 5),
                        "in_tolerance": low <= value <= high,
                    }
                )
            measurements.append(fused)
            if not fused.in_tolerance and m.unit != "count":  # presence's reason is already base's
                reasons.append(self._out_of_tolerance(checks[m.characteristic], fused))
        return Reading(measurements, reasons)

    def _read_at(self, gray: Floats, datum: Datum) -> Reading:
        holes: dict[str, CircleFit | None] = {}
        edges: dict[str, LineFit | None] = {}
        for name, feature in self.spec.features.items():
            if isinstance(feature, HoleFeature):
                holes[name] = self.hole(gray, datum, feature)
            else:
                edges[name] = self.edge(gray, datum, feature)
        measurements: list[Measurement] = []
        reasons: list[StageReason] = []
        for check in self.spec.measurements:
            result = self._measure(check, holes, edges)
            if isinstance(result, StageReason):
                reasons.append(result)
                continue
            measurements.append(result)
            if not result.in_tolerance:
                reasons.append(self._out_of_tolerance(check, result))
        return Reading(measurements, reasons)

    @staticmethod
    def _out_of_tolerance(check: object, m: Measurement) -> StageReason:
        if isinstance(check, PresenceCheck):
            code = "feature_missing" if m.value < 0.5 else "feature_unexpected"
            what = "missing" if m.value < 0.5 else "present, the spec says it must not be"
            return _reason(code, m.characteristic, f"{check.feature} is {what}")
        low = "-inf" if m.lower_limit is None else f"{m.lower_limit:.3f}"
        high = "inf" if m.upper_limit is None else f"{m.upper_limit:.3f}"
        return _reason(
            "out_of_tolerance",
            m.characteristic,
            f"{m.characteristic} {m.value:.3f} ± {m.uncertainty:.3f} {m.unit} "
            f"outside [{low}, {high}] {m.unit}",
        )

    def _measure(
        self, check: object, holes: dict[str, CircleFit | None], edges: dict[str, LineFit | None]
    ) -> Measurement | StageReason:
        if isinstance(check, PresenceCheck):
            found = holes[check.feature] is not None
            want = 1.0 if check.present else 0.0
            return Measurement(
                characteristic=check.name,
                value=1.0 if found else 0.0,
                uncertainty=0.0,
                unit="count",
                nominal=want,
                lower_limit=want,
                upper_limit=want,
                in_tolerance=found == check.present,
            )
        if isinstance(check, DiameterCheck):
            fit = holes[check.feature]
            if fit is None:
                return _reason(
                    "feature_missing", check.name, f"hole {check.feature} not found: cannot measure it"
                )
            value = 2 * fit.radius
            u = math.hypot(2 * fit.sigma / math.sqrt(fit.points), value * self.scale_rel, 2 * self.edge_mm)
            return self._toleranced(check, value, u)
        if isinstance(check, DistanceCheck):
            a, b = check.features
            ends = [holes.get(a), holes.get(b)]
            missing = [n for n, f in zip((a, b), ends, strict=True) if n in holes and f is None]
            if missing:
                return _reason(
                    "feature_missing", check.name, f"hole {missing[0]} not found: cannot measure it"
                )
            lines = [edges.get(n) for n in (a, b) if n in edges]
            if any(line is None for line in lines):
                return _reason("not_measurable", check.name, "the edge was not found in the image")
            circles = [f for f in ends if f is not None]
            if len(circles) == 2:
                value = float(np.hypot(*(circles[0].centre - circles[1].centre)))
                u_fit = math.hypot(self._u_centre(circles[0]), self._u_centre(circles[1]))
            else:
                line = lines[0]
                assert line is not None  # noqa: S101 - checked above
                normal = np.array([-line.direction[1], line.direction[0]])
                value = abs(float((circles[0].centre - line.point) @ normal))
                u_fit = math.hypot(
                    self._u_centre(circles[0]), line.sigma / math.sqrt(line.points), self.edge_mm
                )
            return self._toleranced(check, value, math.hypot(u_fit, value * self.scale_rel))
        assert isinstance(check, StraightnessCheck)  # noqa: S101 - the spec's union is closed
        line = edges[check.feature]
        if line is None:
            return _reason("not_measurable", check.name, f"edge {check.feature} was not found in the image")
        # Form, not noise: the deviations are averaged over STRAIGHTNESS_FILTER_MM of edge (a
        # short-wave filter, as ISO 12780 filters a straightness profile) before peak-to-valley.
        window = max(3, round(STRAIGHTNESS_FILTER_MM / self.calibration.mm_per_px))
        smooth = np.convolve(line.residuals, np.ones(window) / window, mode="valid")
        value = float(np.ptp(smooth)) if len(smooth) else float(np.ptp(line.residuals))
        u = math.hypot(2 * line.sigma / math.sqrt(window), self.edge_mm)
        return Measurement(
            characteristic=check.name,
            value=round(value, 5),
            uncertainty=round(2 * u, 5),
            unit="mm",
            nominal=0.0,
            lower_limit=0.0,
            upper_limit=check.max,
            in_tolerance=value <= check.max,
        )

    @staticmethod
    def _toleranced(check: DiameterCheck | DistanceCheck, value: float, u: float) -> Measurement:
        low, high = check.limits
        return Measurement(
            characteristic=check.name,
            value=round(value, 5),
            uncertainty=round(2 * u, 5),
            unit="mm",
            nominal=check.nominal,
            lower_limit=low,
            upper_limit=high,
            in_tolerance=low <= value <= high,
        )
