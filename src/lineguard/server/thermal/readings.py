"""An asset's reading out of a thermal reading result's measurements (``edge/thermal/report.py``).

A reading result carries, per asset, ``<asset>.max`` (°C; nominal, lower and upper limit =
the learned band's centre, low and high at that hour) and ``<asset>.trend`` (°C; upper
limit = the asset's trend limit, when set). An asset without its ``.max`` is left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["AssetReading", "readings_of"]


@dataclass(frozen=True, slots=True)
class AssetReading:
    asset: str
    max_c: float
    band_low_c: float | None
    band_centre_c: float | None
    band_high_c: float | None
    trend_c: float | None
    trend_limit_c: float | None

    @property
    def in_band(self) -> bool:
        low, high = self.band_low_c, self.band_high_c
        return (low is None or self.max_c >= low) and (high is None or self.max_c <= high)


def readings_of(measurements: list[dict[str, Any]]) -> dict[str, AssetReading]:
    """Asset → its reading, from the stored measurements of one reading result."""
    by_name = {str(m.get("characteristic", "")): m for m in measurements}
    out = {}
    for name, hottest in by_name.items():
        asset, _, what = name.rpartition(".")
        if what != "max" or not asset:
            continue
        trend = by_name.get(f"{asset}.trend", {})
        out[asset] = AssetReading(
            asset=asset,
            max_c=float(hottest["value"]),
            band_low_c=hottest.get("lower_limit"),
            band_centre_c=hottest.get("nominal"),
            band_high_c=hottest.get("upper_limit"),
            trend_c=trend.get("value"),
            trend_limit_c=trend.get("upper_limit"),
        )
    return out
