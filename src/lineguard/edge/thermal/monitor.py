"""Watching assets frame by frame: hot spots, ΔT to a reference, sensor dropouts, trends.

For every frame :meth:`ThermalMonitor.observe` measures each asset's ROI — its hottest pixel
(the hot spot) and its mean — and then, per asset:

- **hot_spot**: the hottest pixel above the learned normal band of that hour, or above the
  asset's absolute ``hot_spot_limit_c``;
- **delta_t**: the hottest pixel more than ``delta_t_limit_c`` above the reference asset's mean
  (ambient air, a sister motor): the alarm that ignores a hot afternoon;
- **trend**: the excess over the band's centre, smoothed (EWMA over ``trend_window_h``), with
  its slope over the same window; when the smoothed excess crosses ``trend_limit_c`` a
  :class:`MaintenanceRecommendation` is raised once (again only after it fell below half).

An alarm is raised after ``confirm_frames`` consecutive frames over its limit and cleared
after as many under it, so one noisy frame neither raises nor clears one. A frame that is
not a measurement — mostly NaN, flat (a frozen or disconnected sensor), identical to the
previous one, or out of any physical range — counts toward **sensor_dropout** instead and is
never used for temperatures; so is a gap longer than ``dropout_after_s`` between frames.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from lineguard.config.thermal import ThermalRoi, ThermalStageConfig
from lineguard.contracts.errors import InputError
from lineguard.edge.thermal.band import Band, NormalBand
from lineguard.edge.thermal.frames import CelsiusFrame, ThermalFrame

__all__ = ["MaintenanceRecommendation", "RoiReading", "ThermalAlarm", "ThermalMonitor", "ThermalObservation"]

#: °C range a frame must stay within to be a measurement (below: a dead sensor's zeros).
PHYSICAL_RANGE_C = (-60.0, 2000.0)
#: Spread (°C) below which a whole frame is flat: no real scene is that uniform.
FLAT_STD_C = 0.02


@dataclass(frozen=True)
class RoiReading:
    asset: str
    max_c: float
    mean_c: float
    band: Band
    delta_t_c: float | None
    trend_c: float
    slope_c_per_h: float


@dataclass(frozen=True)
class ThermalAlarm:
    kind: str  # hot_spot | delta_t | sensor_dropout
    asset: str  # the asset, or "camera" for a dropout
    raised_at: dt.datetime
    value_c: float | None
    limit_c: float | None
    message: str


@dataclass(frozen=True)
class MaintenanceRecommendation:
    asset: str
    asset_kind: str
    raised_at: dt.datetime
    trend_c: float
    limit_c: float
    slope_c_per_h: float
    message: str


@dataclass(frozen=True)
class ThermalObservation:
    at: dt.datetime
    valid: bool
    readings: list[RoiReading] = field(default_factory=list)
    alarms: list[ThermalAlarm] = field(default_factory=list)
    recommendations: list[MaintenanceRecommendation] = field(default_factory=list)


class _Confirm:
    """Raise after n consecutive hits, clear after n consecutive misses."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.active = False
        self._run = 0

    def reset(self) -> None:
        self.active, self._run = False, 0

    def step(self, hit: bool) -> bool:
        """True exactly when the alarm becomes active."""
        if hit != self.active:
            self._run += 1
            if self._run >= self.n:
                self.active, self._run = hit, 0
                return hit
        else:
            self._run = 0
        return False


class _Trend:
    """EWMA of the excess over normal, and its least-squares slope over the window (running sums)."""

    def __init__(self, window_h: float) -> None:
        self.window_s = window_h * 3600
        self.level: float | None = None
        self._last: dt.datetime | None = None
        self._origin: float | None = None
        self._points: deque[tuple[float, float]] = deque()
        self._sums = [0.0, 0.0, 0.0, 0.0]  # Σt, Σv, Σt², Σtv (t in hours from the origin)

    def _add(self, t: float, v: float, sign: float) -> None:
        for i, term in enumerate((t, v, t * t, t * v)):
            self._sums[i] += sign * term

    def step(self, at: dt.datetime, excess: float) -> tuple[float, float]:
        if self.level is None or self._last is None:
            self.level = excess
        else:
            alpha = 1 - math.exp(-max((at - self._last).total_seconds(), 0) / self.window_s)
            self.level += alpha * (excess - self.level)
        self._last = at
        if self._origin is None:
            self._origin = at.timestamp()
        t = (at.timestamp() - self._origin) / 3600
        self._points.append((t, excess))
        self._add(t, excess, 1.0)
        while self._points[0][0] < t - self.window_s / 3600:
            self._add(*self._points.popleft(), -1.0)
        n = len(self._points)
        st, sv, stt, stv = self._sums
        denominator = n * stt - st * st
        slope = (n * stv - st * sv) / denominator if n >= 3 and denominator > 1e-12 else 0.0
        return self.level, slope


class _Asset:
    def __init__(self, roi: ThermalRoi, config: ThermalStageConfig) -> None:
        self.roi = roi
        self.band = NormalBand(
            by_hour=config.band_by == "hour_of_day",
            sigma=config.band_sigma,
            min_half_width_c=config.band_min_half_width_c,
            min_samples=config.min_learn_samples,
        )
        self.hot = _Confirm(config.confirm_frames)
        self.delta = _Confirm(config.confirm_frames)
        self.trend = _Trend(config.trend_window_h)
        self.recommended = False

    def crop(self, celsius: CelsiusFrame) -> CelsiusFrame:
        r = self.roi
        height, width = celsius.shape
        if r.x + r.width > width or r.y + r.height > height:
            where = f"{r.width}x{r.height} at ({r.x}, {r.y})"
            msg = f"asset {r.asset}: ROI {where} is outside the {width}x{height} frame"
            raise InputError(msg)
        return celsius[r.y : r.y + r.height, r.x : r.x + r.width]


def _stats(roi: CelsiusFrame) -> tuple[float, float] | None:
    finite = roi[np.isfinite(roi)]
    if finite.size * 2 < roi.size:
        return None
    return float(finite.max()), float(finite.mean())


class ThermalMonitor:
    """One thermal camera's assets; :meth:`learn` on normal frames, then :meth:`observe` each frame."""

    def __init__(self, config: ThermalStageConfig) -> None:
        self.config = config
        self._assets = {roi.asset: _Asset(roi, config) for roi in config.rois}
        self._dropout = _Confirm(config.confirm_frames)
        self._last_valid: dt.datetime | None = None
        self._last_frame: CelsiusFrame | None = None
        self._samples: dict[str, list[tuple[dt.datetime, float]]] = {a: [] for a in self._assets}
        self._learned_frames = 0

    def _invalid_reason(self, celsius: CelsiusFrame) -> str | None:
        finite = celsius[np.isfinite(celsius)]
        if finite.size * 2 < celsius.size:
            return "most pixels give no temperature"
        low, high = PHYSICAL_RANGE_C
        if float(finite.min()) < low or float(finite.max()) > high:
            return f"values outside {low:.0f}..{high:.0f} °C"
        if float(finite.std()) < FLAT_STD_C:
            return "the frame is flat (sensor frozen or disconnected)"
        if self._last_frame is not None and np.array_equal(celsius, self._last_frame, equal_nan=True):
            return "the frame repeats the previous one exactly (stream frozen)"
        return None

    def learn(self, frames: Iterable[ThermalFrame]) -> int:
        """Learn every asset's normal band from frames known to be normal; returns frames used."""
        for frame in frames:
            self.add_normal(frame)
        return self.finish_learning()

    def add_normal(self, frame: ThermalFrame) -> bool:
        """One frame of the learning period (only its per-asset hottest pixel is kept); False if unusable.

        With :meth:`finish_learning`, the incremental form of :meth:`learn` for a camera that
        learns from its first hours as they arrive (the node's thermal worker)."""
        if self._invalid_reason(frame.celsius) is not None:
            return False
        self._last_frame = frame.celsius
        self._learned_frames += 1
        for name, asset in self._assets.items():
            stats = _stats(asset.crop(frame.celsius))
            if stats is not None:
                self._samples[name].append((frame.captured_at, stats[0]))
        return True

    def finish_learning(self) -> int:
        """Learn the bands from the frames added; returns frames used (InputError if too few)."""
        for name, asset in self._assets.items():
            asset.band.learn(self._samples[name], asset=name)
        used = self._learned_frames
        self._samples = {a: [] for a in self._assets}
        self._learned_frames = 0
        self._last_frame = None
        return used

    @property
    def learned(self) -> bool:
        return all(asset.band.learned for asset in self._assets.values())

    def export_bands(self) -> dict[str, dict[str, list[float]]]:
        """Every asset's learned bands (:meth:`NormalBand.export`), to keep across a restart."""
        return {name: asset.band.export() for name, asset in self._assets.items()}

    def restore_bands(self, saved: dict[str, dict[str, list[float]]]) -> None:
        """Bands :meth:`export_bands` gave, for exactly this camera's assets (InputError otherwise)."""
        if set(saved) != set(self._assets):
            msg = (
                f"the saved bands are for assets {sorted(saved)}, this camera watches {sorted(self._assets)}"
            )
            raise InputError(msg)
        for name, asset in self._assets.items():
            asset.band.restore(saved[name], asset=name)

    def check_silence(self, now: dt.datetime) -> ThermalAlarm | None:
        """A dropout alarm when no valid frame came for ``dropout_after_s`` (call it on a timer)."""
        if self._last_valid is None or self._dropout.active:
            return None
        silent_s = (now - self._last_valid).total_seconds()
        if silent_s < self.config.dropout_after_s:
            return None
        self._dropout.active = True
        return ThermalAlarm(
            "sensor_dropout", "camera", now, None, None, f"no valid frame for {silent_s:.0f} s"
        )

    def observe(self, frame: ThermalFrame) -> ThermalObservation:
        at = frame.captured_at
        silent_s = None if self._last_valid is None else (at - self._last_valid).total_seconds()
        reason = self._invalid_reason(frame.celsius)
        self._last_frame = frame.celsius
        if reason is not None:
            raised = self._dropout.step(True)
            if not raised and silent_s is not None and silent_s >= self.config.dropout_after_s:
                raised = not self._dropout.active
                self._dropout.active = True
            dropped = [ThermalAlarm("sensor_dropout", "camera", at, None, None, reason)] if raised else []
            return ThermalObservation(at, False, alarms=dropped)
        alarms: list[ThermalAlarm] = []
        if silent_s is not None and silent_s > self.config.dropout_after_s and not self._dropout.active:
            message = f"no frame for {silent_s:.0f} s before this one"
            alarms.append(ThermalAlarm("sensor_dropout", "camera", at, None, None, message))
        self._dropout.reset()
        self._last_valid = at
        readings, recommendations = [], []
        stats = {name: _stats(asset.crop(frame.celsius)) for name, asset in self._assets.items()}
        for name, asset in self._assets.items():
            found = stats[name]
            if found is None:
                continue
            reading, new_alarms, recommendation = self._assess(asset, at, found, stats)
            readings.append(reading)
            alarms += new_alarms
            if recommendation is not None:
                recommendations.append(recommendation)
        return ThermalObservation(at, True, readings, alarms, recommendations)

    def _assess(
        self,
        asset: _Asset,
        at: dt.datetime,
        found: tuple[float, float],
        stats: dict[str, tuple[float, float] | None],
    ) -> tuple[RoiReading, list[ThermalAlarm], MaintenanceRecommendation | None]:
        roi, (max_c, mean_c) = asset.roi, found
        band = asset.band.at(at)
        alarms: list[ThermalAlarm] = []
        limit = roi.hot_spot_limit_c
        over_limit = limit is not None and max_c > limit
        if asset.hot.step(max_c > band.high_c or over_limit):
            what, bound = (
                (f"above its limit {limit:.1f} °C", limit)
                if over_limit
                else (
                    f"above its normal band ({band.low_c:.1f}..{band.high_c:.1f} °C at this hour)",
                    band.high_c,
                )
            )
            alarms.append(
                ThermalAlarm("hot_spot", roi.asset, at, max_c, bound, f"hot spot {max_c:.1f} °C {what}")
            )
        delta_t = None
        ref = stats.get(roi.reference) if roi.reference else None
        if ref is not None:
            delta_t = max_c - ref[1]
            if roi.delta_t_limit_c is not None and asset.delta.step(delta_t > roi.delta_t_limit_c):
                alarms.append(
                    ThermalAlarm(
                        "delta_t",
                        roi.asset,
                        at,
                        delta_t,
                        roi.delta_t_limit_c,
                        f"{delta_t:.1f} °C above {roi.reference} (limit {roi.delta_t_limit_c:.1f} °C)",
                    )
                )
        trend, slope = asset.trend.step(at, max_c - band.center_c)
        recommendation = None
        if roi.trend_limit_c is not None:
            if not asset.recommended and trend >= roi.trend_limit_c:
                asset.recommended = True
                recommendation = MaintenanceRecommendation(
                    roi.asset,
                    roi.kind,
                    at,
                    trend,
                    roi.trend_limit_c,
                    slope,
                    f"{roi.asset} runs {trend:.1f} °C above its normal (limit {roi.trend_limit_c:.1f} °C), "
                    f"rising {slope:.2f} °C/h: schedule an inspection",
                )
            elif asset.recommended and trend < roi.trend_limit_c / 2:
                asset.recommended = False
        return RoiReading(roi.asset, max_c, mean_c, band, delta_t, trend, slope), alarms, recommendation
