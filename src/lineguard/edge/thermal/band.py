"""The learned normal band of an asset: how hot its hottest pixel usually is, per hour of the day.

A motor runs hotter on the day shift than at night, so one band for the whole day would
either miss a hot motor at night or alarm every afternoon. :class:`NormalBand` keeps one
band per hour of the day (pooled with the hours either side; or one for all, ``band_by: none``),
learned robustly from frames
known to be normal: the median, and the median absolute deviation scaled to a standard
deviation (1.4826 · MAD), so a few odd frames in the learning set do not widen the band.
The band is ``median ± band_sigma · sigma``, at least ``band_min_half_width_c`` either side.
An hour with fewer than ``min_learn_samples`` samples borrows the all-hours band; with too
few samples overall the band cannot be learned and says so.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from lineguard.contracts.errors import InputError

__all__ = ["Band", "NormalBand"]

_MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class Band:
    center_c: float
    low_c: float
    high_c: float
    samples: int


class NormalBand:
    """One asset's learned band(s)."""

    def __init__(self, *, by_hour: bool, sigma: float, min_half_width_c: float, min_samples: int) -> None:
        self.by_hour = by_hour
        self.sigma = sigma
        self.min_half_width_c = min_half_width_c
        self.min_samples = min_samples
        self._bands: dict[int | None, Band] = {}

    def _band(self, values: list[float]) -> Band:
        arr = np.asarray(values, np.float64)
        center = float(np.median(arr))
        spread = _MAD_TO_SIGMA * float(np.median(np.abs(arr - center)))
        half = max(self.sigma * spread, self.min_half_width_c)
        return Band(center, center - half, center + half, len(values))

    def learn(self, samples: Iterable[tuple[dt.datetime, float]], *, asset: str) -> None:
        """Learn from (time, hottest-pixel °C) pairs taken while the asset was normal."""
        by_hour: dict[int, list[float]] = defaultdict(list)
        pooled: list[float] = []
        for at, value in samples:
            if np.isfinite(value):
                by_hour[at.hour].append(value)
                pooled.append(value)
        if len(pooled) < self.min_samples:
            msg = f"asset {asset}: {len(pooled)} normal samples, {self.min_samples} needed to learn a band"
            raise InputError(msg, details=["record longer before switching monitoring on"])
        self._bands = {None: self._band(pooled)}
        if self.by_hour:
            for hour in range(24):
                # The hour and its neighbours: a load that varies from hour to hour, seen on only
                # a few days, would otherwise give bands narrower than the next day's normal.
                values = [v for h in (hour - 1, hour, hour + 1) for v in by_hour.get(h % 24, [])]
                if by_hour.get(hour) and len(values) >= self.min_samples:
                    self._bands[hour] = self._band(values)

    @property
    def learned(self) -> bool:
        return None in self._bands

    def export(self) -> dict[str, list[float]]:
        """The learned bands as plain numbers: ``"all"`` or the hour → [centre, low, high, samples]."""
        return {
            "all" if hour is None else str(hour): [b.center_c, b.low_c, b.high_c, float(b.samples)]
            for hour, b in sorted(self._bands.items(), key=lambda item: -1 if item[0] is None else item[0])
        }

    def restore(self, saved: dict[str, list[float]], *, asset: str) -> None:
        """Take bands :meth:`export` gave (read back from disk); InputError naming what is wrong."""
        bands: dict[int | None, Band] = {}
        for key, values in saved.items():
            hour = None if key == "all" else int(key) if key.isdigit() and int(key) < 24 else -1
            ok = hour != -1 and len(values) == 4 and all(isinstance(v, (int, float)) for v in values)
            if not ok or not np.all(np.isfinite(values)) or not values[1] <= values[0] <= values[2]:
                msg = f"asset {asset}: band {key!r} is not a valid band: {values!r}"
                raise InputError(msg)
            bands[hour] = Band(float(values[0]), float(values[1]), float(values[2]), int(values[3]))
        if None not in bands:
            msg = f"asset {asset}: no all-hours band among the saved bands"
            raise InputError(msg)
        if not self.by_hour and len(bands) > 1:
            msg = f"asset {asset}: bands per hour saved, but band_by is none"
            raise InputError(msg)
        self._bands = bands

    def at(self, when: dt.datetime) -> Band:
        """The band that applies at ``when``."""
        if not self.learned:
            msg = "the normal band has not been learned yet"
            raise InputError(msg)
        return self._bands.get(when.hour if self.by_hour else None) or self._bands[None]
