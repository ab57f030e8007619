"""Drift: notice that a camera's world or its model has gone stale, before verdicts go wrong.

**Reference.** The first ``reference_parts`` parts a camera inspects with a model (after
every start and every model swap) are its reference: the line as it was when the model
was approved and deployed there, seen through the same view check and fusion as every
later part. The training images are not used: they were picked by people, cropped and
lit as the training set was, and a model package does not carry them; the running line
is what later parts must be compared with. (If the line had already drifted when the
model was deployed, the reference inherits it: deploying is the moment to check.)

**Statistics.** Per part: the image statistics of its decisive frame
(:mod:`lineguard.edge.drift.features`) for every part, and its fused anomaly score for
parts that passed (a failing or uncertain part's score says nothing about the normal ones).

**Chart.** Each statistic is standardised robustly on the reference (median, MAD scaled
to a standard deviation, with a floor so a statistic that never moved in the reference
cannot alarm on a hair's change) and smoothed by an EWMA (``smoothing`` = λ). Its limit is
**calibrated on the reference itself**: the reference's own values are resampled in
blocks of consecutive parts (a moving-block bootstrap, so runs of similar parts keep
their length) into many runs of ``horizon_parts`` parts, the same EWMA and persistence rule run over them,
and the limit is set so that at most 1 % of those stationary runs would alarm (times a
10 % margin, and never below 3 EWMA standard deviations). A statistic drifts when its
EWMA stays beyond its limit for ``persistence_parts`` consecutive parts: one person
leaning into view or one odd part does not.

**Cause.** Image statistics name physical causes (lighting, focus, position); when only
the score moved, the images look as before and the model no longer fits them: retrain.
One finding per episode; the monitor re-arms once every statistic is back inside half its
limit for ``persistence_parts`` parts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from lineguard.config.edge import DriftConfig
from lineguard.edge.drift.features import IMAGE_STATISTICS, ImageStats

__all__ = ["DriftCause", "DriftFinding", "DriftMonitor"]

DriftCause = Literal["lighting", "focus", "position", "model"]

_CAUSE: Mapping[str, DriftCause] = {
    "brightness": "lighting",
    "contrast": "lighting",
    "focus": "focus",
    "position_x": "position",
    "position_y": "position",
    "score": "model",
}

#: Smallest spread a statistic is standardised with, in its own units: below these a change
#: is not worth a maintenance visit (grey levels, log-focus, fraction of the region).
_SCALE_FLOOR = {
    "brightness": 2.0,
    "contrast": 1.5,
    "focus": 0.05,
    "position_x": 0.005,
    "position_y": 0.005,
}
#: The score's floor is this fraction of the gap between the reference median and the threshold.
_SCORE_FLOOR = 0.05

_ADVICE: Mapping[DriftCause, str] = {
    "lighting": "brightness or contrast of the camera image changed: check lighting and exposure",
    "focus": "sharpness of the camera image changed: check lens focus and the camera window",
    "position": "the part sits elsewhere in the inspection region: check the fixture and the camera mount",
    "model": "part scores shifted while the images look unchanged: the model is stale, retrain on good parts",
}
#: Resampled runs the limits are calibrated on (a one-off cost of about 0.1 s per camera).
_CALIBRATION_RUNS = 64


@dataclass(frozen=True)
class DriftFinding:
    """A statistic (or several) left its band: the recommendation the node raises."""

    cause: DriftCause
    #: The statistics beyond their limits, each with its reference value and current level.
    moved: dict[str, tuple[float, float]]
    #: Parts observed since the reference was complete.
    parts_watched: int

    @property
    def message(self) -> str:
        moved = sorted(self.moved.items())
        changes = ", ".join(f"{name} {ref:.3g} → {now:.3g}" for name, (ref, now) in moved)
        return f"drift ({self.cause}): {_ADVICE[self.cause]} ({changes})"


@dataclass
class _Chart:
    centre: float
    scale: float
    limit: float
    level: float = 0.0
    beyond: int = 0

    def add(self, value: float, smoothing: float) -> None:
        z = (value - self.centre) / self.scale
        self.level = smoothing * z + (1 - smoothing) * self.level
        self.beyond = self.beyond + 1 if abs(self.level) > self.limit else 0

    @property
    def now(self) -> float:
        """The smoothed level in the statistic's own units."""
        return self.centre + self.level * self.scale


def _robust(values: np.ndarray, floor: float) -> tuple[float, float]:
    centre = float(np.median(values))
    mad = float(np.median(np.abs(values - centre))) * 1.4826
    return centre, max(mad, floor, 1e-12)


def _calibrated_limit(z: np.ndarray, config: DriftConfig, rng: np.random.Generator) -> float:
    """The EWMA limit a stationary line like the reference exceeds for ``persistence``
    parts in at most 1 % of ``horizon_parts``-long runs (see the module docstring)."""
    lam, persistence, horizon = config.smoothing, config.persistence_parts, config.horizon_parts
    sigma = math.sqrt(lam / (2 - lam))
    # Moving-block bootstrap: runs are stitched from blocks of consecutive reference parts
    # (circularly), so what lasts several parts on a real line (a person leaning over the
    # belt, a batch of darker parts) keeps its length in the resampled runs. Resampling
    # single parts would break such runs up and calibrate limits too tight.
    block = min(max(persistence, 10), z.size)
    blocks = -(-horizon // block)
    starts = rng.integers(0, z.size, size=(_CALIBRATION_RUNS, blocks))
    index = (starts[:, :, None] + np.arange(block)) % z.size
    runs = z[index.reshape(_CALIBRATION_RUNS, blocks * block)[:, :horizon]]
    level = np.zeros(_CALIBRATION_RUNS)
    # Per run, the highest level held for `persistence` consecutive parts: a rolling minimum
    # of |level| over the window, then its maximum over the run.
    window = np.full((_CALIBRATION_RUNS, persistence), np.inf)
    held = np.zeros(_CALIBRATION_RUNS)
    for t in range(horizon):
        level = lam * runs[:, t] + (1 - lam) * level
        window[:, t % persistence] = np.abs(level)
        if t + 1 >= persistence:
            held = np.maximum(held, window.min(axis=1))
    return max(1.1 * float(np.quantile(held, 0.99)), 3.0 * sigma)


class DriftMonitor:
    """Watches one camera's parts against its reference; see the module docstring."""

    def __init__(self, config: DriftConfig, *, threshold: float, seed: int = 0) -> None:
        self.config, self.threshold = config, threshold
        self._rng = np.random.default_rng(seed)
        self.reset(threshold)

    def reset(self, threshold: float | None = None) -> None:
        """Start a new reference (a new model, or a deliberate change on the line)."""
        if threshold is not None:
            self.threshold = threshold
        self._reference: dict[str, list[float]] = {name: [] for name in (*IMAGE_STATISTICS, "score")}
        self._charts: dict[str, _Chart] = {}
        self.parts_watched = 0
        self.drifted = False
        self._calm = 0
        self.last_finding: DriftFinding | None = None

    @property
    def state(self) -> Literal["off", "reference", "watching", "drifted"]:
        if not self.config.enabled:
            return "off"
        if not self._charts:
            return "reference"
        return "drifted" if self.drifted else "watching"

    def observe(self, stats: ImageStats, score: float | None) -> DriftFinding | None:
        """One part: its decisive frame's statistics, and its fused score unless it failed."""
        if not self.config.enabled:
            return None
        values = stats.as_dict()
        if score is not None:
            values["score"] = score
        values = {k: v for k, v in values.items() if math.isfinite(v)}
        if not self._charts:
            for name, value in values.items():
                self._reference[name].append(value)
            if len(self._reference["brightness"]) >= self.config.reference_parts:
                self._build_charts()
            return None
        self.parts_watched += 1
        for name, value in values.items():
            chart = self._charts.get(name)
            if chart is not None:
                chart.add(value, self.config.smoothing)
        return self._judge()

    def _build_charts(self) -> None:
        for name, values in self._reference.items():
            if len(values) < self.config.reference_parts // 2:
                continue  # e.g. the score when most reference parts failed: not a reference
            arr = np.asarray(values, dtype=np.float64)
            if name == "score":
                centre = float(np.median(arr))
                floor = _SCORE_FLOOR * max(self.threshold - centre, 1e-9)
            else:
                floor = _SCALE_FLOOR[name]
            centre, scale = _robust(arr, floor)
            z = (arr - centre) / scale
            self._charts[name] = _Chart(centre, scale, _calibrated_limit(z, self.config, self._rng))
        self._reference = {name: [] for name in self._reference}

    def _judge(self) -> DriftFinding | None:
        persistence = self.config.persistence_parts
        if self.drifted:
            inside = all(abs(c.level) < c.limit / 2 for c in self._charts.values())
            self._calm = self._calm + 1 if inside else 0
            if self._calm >= persistence:
                self.drifted, self._calm = False, 0
            return None
        moved = {name: c for name, c in self._charts.items() if c.beyond >= persistence}
        if not moved:
            return None
        self.drifted = True
        physical = [n for n in moved if _CAUSE[n] != "model"]
        # The statistic furthest beyond its limit names the cause; a physical cause wins over
        # the score, which follows any physical change.
        lead = max(physical or moved, key=lambda n: abs(moved[n].level) / moved[n].limit)
        self.last_finding = DriftFinding(
            cause=_CAUSE[lead],
            moved={name: (c.centre, c.now) for name, c in moved.items()},
            parts_watched=self.parts_watched,
        )
        return self.last_finding

    def snapshot(self) -> dict[str, object]:
        """What the node page shows: state, and each statistic's reference, level and limit use."""
        return {
            "state": self.state,
            "reference_parts": self.config.reference_parts,
            "reference_collected": len(self._reference["brightness"]) if not self._charts else None,
            "parts_watched": self.parts_watched,
            "statistics": {
                name: {
                    "reference": round(c.centre, 6),
                    "now": round(c.now, 6),
                    "of_limit": round(abs(c.level) / c.limit, 3),
                    "band": (round(c.centre - c.limit * c.scale, 6), round(c.centre + c.limit * c.scale, 6)),
                }
                for name, c in self._charts.items()
            },
            "last_finding": (
                None
                if self.last_finding is None
                else {"cause": self.last_finding.cause, "message": self.last_finding.message}
            ),
        }
