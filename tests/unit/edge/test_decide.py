"""Verdict bands, regions in full-frame pixels, one alert per part, work-order triggers."""

from __future__ import annotations

import numpy as np
import pytest

from lineguard.contracts.events import BoundingBox, Verdict
from lineguard.contracts.types import Scores
from lineguard.edge.decide import PartDebouncer, StationMonitor, classify, defect_regions


@pytest.mark.parametrize(
    ("score", "verdict"),
    [
        (0.5, Verdict.FAIL),
        (0.9, Verdict.FAIL),
        (0.46, Verdict.UNCERTAIN),
        (0.45, Verdict.UNCERTAIN),
        (0.44, Verdict.PASS),
    ],
)
def test_uncertain_band_sits_just_below_the_threshold(score: float, verdict: Verdict) -> None:
    assert classify(score, 0.5, 0.1) is verdict


def test_regions_are_scaled_from_the_map_and_shifted_by_the_roi() -> None:
    amap = np.zeros((10, 10), np.float32)
    amap[2:4, 5:7] = 1.0  # a 2x2 hot spot
    roi = BoundingBox(x=100, y=50, width=200, height=100)
    regions = defect_regions(Scores(anomaly_score=1.0, anomaly_map=amap, region_threshold=0.5), roi)
    assert len(regions) == 1
    box = regions[0].bbox
    assert (box.x, box.y, box.width, box.height) == (100 + 5 * 20, 50 + 2 * 10, 40, 20)


def test_debouncer_alerts_once_per_part_id() -> None:
    d = PartDebouncer()
    firsts = [d.first_failure(part_id=p, frame_id=i) for i, p in enumerate(["a", "a", "a", "b", "b"])]
    assert firsts == [True, False, False, True, False]


def test_debouncer_without_part_ids_groups_runs_of_failing_frames() -> None:
    d = PartDebouncer(gap_frames=2)
    frames = [10, 11, 12, 14, 30, 31]
    assert [d.first_failure(part_id=None, frame_id=f) for f in frames] == [
        True,
        False,
        False,
        False,
        True,
        False,
    ]


def test_station_monitor_triggers_once_then_cools_down() -> None:
    m = StationMonitor(window=10, min_failures=3, cooldown_parts=5)
    results = [m.record(f"p{i}", failed=True) for i in range(6)]
    assert results[0] is None and results[1] is None
    assert results[2] == ["p0", "p1", "p2"]
    assert results[3:] == [None, None, None]
    # The same part seen again does not count twice.
    m2 = StationMonitor(window=10, min_failures=2, cooldown_parts=0)
    assert m2.record("x", True) is None
    assert m2.record("x", True) is None
