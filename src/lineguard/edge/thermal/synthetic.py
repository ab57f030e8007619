"""A generated thermal view of a motor, its bearing, a control panel and a wall, with faults on demand.

For tests, the benchmark and the demo. The scene follows a plant's day: ambient air swings
±4 °C (coolest at 03:00), the line runs two shifts (06:00–22:00 at full load, a light load at
night, the load varying from hour to hour) and the motor and bearing follow the load with a
30-minute thermal lag. Every pixel carries sensor noise (0.15 °C). Faults:

- ``overheat``: the motor's temperature rises by ``rate_c_per_h`` from ``start`` on (a
  failing cooling fan, a worn bearing heating its housing);
- ``hot_spot``: a small spot on the bearing jumps by ``step_c`` at ``start``;
- ``dropout``: from ``start`` for ``duration``, the sensor sends zeros (a dead link) — or
  nothing at all with ``missing=True``.

:data:`SCENE_ROIS` are the assets' rectangles in the 96 × 128 frames it makes.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from lineguard.config.thermal import ThermalRoi
from lineguard.edge.thermal.frames import KELVIN, CelsiusFrame, ThermalFrame

__all__ = ["SCENE_ROIS", "Fault", "ThermalScene", "to_centi_kelvin"]

HEIGHT, WIDTH = 96, 128
SCENE_ROIS = [
    ThermalRoi(asset="wall", kind="reference", x=4, y=4, width=20, height=20),
    ThermalRoi(
        asset="motor",
        kind="motor",
        x=40,
        y=30,
        width=40,
        height=36,
        reference="wall",
        delta_t_limit_c=45.0,
        trend_limit_c=4.0,
    ),
    ThermalRoi(
        asset="bearing",
        kind="bearing",
        x=84,
        y=40,
        width=16,
        height=16,
        reference="wall",
        delta_t_limit_c=35.0,
        trend_limit_c=4.0,
    ),
    ThermalRoi(asset="panel", kind="panel", x=100, y=70, width=24, height=22),
]


@dataclass(frozen=True)
class Fault:
    kind: str  # overheat | hot_spot | dropout
    start: dt.datetime
    rate_c_per_h: float = 0.0
    step_c: float = 0.0
    duration: dt.timedelta = dt.timedelta(0)
    missing: bool = False


def to_centi_kelvin(celsius: CelsiusFrame) -> np.ndarray[Any, np.dtype[np.uint16]]:
    """The frame as a radiometric camera stores it (uint16 centi-kelvin); NaN becomes 0."""
    values = np.nan_to_num((celsius.astype(np.float64) + KELVIN) * 100, nan=0.0)
    return np.asarray(np.clip(np.round(values), 0, 65535), np.uint16)


def _blob(cy: float, cx: float, sy: float, sx: float) -> CelsiusFrame:
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    return np.asarray(np.exp(-(((yy - cy) / sy) ** 2 + ((xx - cx) / sx) ** 2) / 2), np.float32)


class ThermalScene:
    """Frames of the scene at any time; deterministic for a seed."""

    def __init__(
        self, *, seed: int = 0, faults: tuple[Fault, ...] = (), epoch: dt.datetime | None = None
    ) -> None:
        """``epoch``: the hour the load pattern starts from (default: the first frame's hour);
        give the learning period's start to watch later days of the same line."""
        self.rng = np.random.default_rng(seed)
        self.faults = faults
        self._hour_load = np.random.default_rng(seed + 1).uniform(0.85, 1.0, 24 * 400)
        self._motor = _blob(48, 60, 12, 14)
        self._bearing = _blob(48, 92, 4, 4)
        self._spot = _blob(46, 93, 1.5, 1.5)
        self._panel = np.zeros((HEIGHT, WIDTH), np.float32)
        self._panel[70:92, 100:124] = 1.0
        self._epoch = epoch
        # Sensor noise (0.15 °C) drawn from a bank of frames: a fresh draw per frame costs more
        # than everything else here, and 256 frames do not repeat in any pattern a monitor sees.
        self._noise = self.rng.normal(0.0, 0.15, (256, HEIGHT, WIDTH)).astype(np.float32)

    def _load(self, at: dt.datetime) -> float:
        """Load with a 30-minute lag: the mean of the last half hour's nominal load."""
        assert self._epoch is not None  # noqa: S101 - set by frame()
        total = 0.0
        for minutes in (0, 10, 20, 30):
            t = at - dt.timedelta(minutes=minutes)
            hour_index = int((t - self._epoch).total_seconds() // 3600) % len(self._hour_load)
            shift = 1.0 if 6 <= t.hour < 22 else 0.3
            total += shift * float(self._hour_load[hour_index])
        return total / 4

    def frame(self, at: dt.datetime) -> ThermalFrame | None:
        """The frame at ``at`` (None while a ``missing`` dropout lasts)."""
        if self._epoch is None:
            self._epoch = at.replace(minute=0, second=0, microsecond=0)
        hours = at.hour + at.minute / 60
        ambient = 22.0 + 4.0 * math.sin(2 * math.pi * (hours - 9) / 24)
        load = self._load(at)
        motor_rise, bearing_rise, spot = 28.0 * load, 16.0 * load, 0.0
        for fault in self.faults:
            if at < fault.start:
                continue
            since_h = (at - fault.start).total_seconds() / 3600
            if fault.kind == "overheat":
                motor_rise += fault.rate_c_per_h * since_h
            elif fault.kind == "hot_spot":
                spot += fault.step_c
            elif fault.kind == "dropout" and at < fault.start + fault.duration:
                if fault.missing:
                    return None
                return ThermalFrame(np.full((HEIGHT, WIDTH), -KELVIN, np.float32), at, "dropout")
        celsius = (
            ambient
            + motor_rise * self._motor
            + bearing_rise * self._bearing
            + spot * self._spot
            + 8.0 * load * self._panel
            + self._noise[int(self.rng.integers(0, len(self._noise)))]
        )
        return ThermalFrame(celsius.astype(np.float32), at, "synthetic")

    def frames(self, start: dt.datetime, end: dt.datetime, period: dt.timedelta) -> Iterator[ThermalFrame]:
        at = start
        while at < end:
            frame = self.frame(at)
            if frame is not None:
                yield frame
            at += period
