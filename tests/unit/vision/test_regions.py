"""Regions from an anomaly map, scaled into full-frame pixels."""

from __future__ import annotations

import numpy as np
import pytest

from lineguard.contracts.errors import InputError
from lineguard.vision.regions import regions_from_map


def test_no_region_below_threshold() -> None:
    assert regions_from_map(np.zeros((32, 32), np.float32), threshold=0.5, out_width=64, out_height=64) == []


def test_box_is_scaled_and_offset_into_the_frame() -> None:
    amap = np.zeros((32, 32), np.float32)
    amap[8:16, 4:12] = 1.0
    amap[10, 6] = 3.0
    (region,) = regions_from_map(amap, threshold=0.5, out_width=320, out_height=64, offset_x=100, offset_y=7)
    assert region.score == 3.0
    assert region.defect_class == "anomaly"
    assert (region.bbox.x, region.bbox.y, region.bbox.width, region.bbox.height) == (140, 23, 80, 16)


def test_regions_are_sorted_by_peak_and_speckle_dropped() -> None:
    amap = np.zeros((64, 64), np.float32)
    amap[5:15, 5:15] = 1.0
    amap[40:60, 40:60] = 2.0
    amap[30, 30] = 5.0  # one map pixel = one output pixel: below min_area_px
    regions = regions_from_map(amap, threshold=0.5, out_width=64, out_height=64, min_area_px=4)
    assert [r.score for r in regions] == [2.0, 1.0]


def test_max_regions_caps_the_list() -> None:
    amap = np.zeros((64, 64), np.float32)
    for i in range(8):
        amap[i * 8 : i * 8 + 4, 0:4] = 1.0 + i
    assert len(regions_from_map(amap, threshold=0.5, out_width=64, out_height=64, max_regions=3)) == 3


def test_bad_map_is_refused() -> None:
    with pytest.raises(InputError, match="HxW"):
        regions_from_map(np.zeros((2, 3, 4), np.float32), threshold=0.0, out_width=8, out_height=8)
