"""Regions from an anomaly map: cut relative to the map itself, scaled into full-frame pixels."""

from __future__ import annotations

import numpy as np
import pytest

from lineguard.contracts.errors import InputError
from lineguard.vision.regions import good_rise_level, map_rise, region_mask, regions_from_map


def test_no_region_on_a_flat_map() -> None:
    assert (
        regions_from_map(np.zeros((32, 32), np.float32), pixel_threshold=0.5, out_width=64, out_height=64)
        == []
    )
    # Flat but high (a part unusual as a whole lifts every pixel): still nothing stands out.
    assert (
        regions_from_map(np.full((32, 32), 9.0, np.float32), pixel_threshold=0.5, out_width=64, out_height=64)
        == []
    )


def test_box_is_scaled_and_offset_into_the_frame() -> None:
    amap = np.zeros((32, 32), np.float32)
    amap[8:16, 4:12] = 2.0
    amap[10, 6] = 3.0
    (region,) = regions_from_map(
        amap, pixel_threshold=0.5, out_width=320, out_height=64, offset_x=100, offset_y=7
    )
    assert region.score == 3.0
    assert region.defect_class == "anomaly"
    assert (region.bbox.x, region.bbox.y, region.bbox.width, region.bbox.height) == (140, 23, 80, 16)


def test_a_global_offset_does_not_make_the_whole_map_a_region() -> None:
    """The map of a part unusual as a whole sits above any absolute threshold everywhere;
    the region is still only the spot that stands out from the rest of the map."""
    rng = np.random.default_rng(0)
    amap = (20.0 + rng.normal(0, 0.3, (64, 64))).astype(np.float32)  # global z-score ~20
    amap[40:48, 10:20] += 6.0
    (region,) = regions_from_map(amap, pixel_threshold=1.0, out_width=64, out_height=64)
    assert (region.bbox.x, region.bbox.y, region.bbox.width, region.bbox.height) == (10, 40, 10, 8)
    assert region.score == pytest.approx(float(amap.max()))


def test_a_spot_no_higher_than_on_good_parts_is_no_region() -> None:
    amap = np.zeros((32, 32), np.float32)
    amap[4:8, 4:8] = 1.0
    assert regions_from_map(amap, pixel_threshold=1.5, out_width=32, out_height=32) == []
    assert len(regions_from_map(amap, pixel_threshold=0.5, out_width=32, out_height=32)) == 1


def test_half_the_peak_outlines_the_region() -> None:
    amap = np.zeros((64, 64), np.float32)
    amap[20:40, 20:40] = 1.0  # the shoulder, under half the peak's rise
    amap[28:32, 28:32] = 4.0
    (region,) = regions_from_map(amap, pixel_threshold=0.0, out_width=64, out_height=64)
    assert (region.bbox.x, region.bbox.width) == (28, 4)
    (wide,) = regions_from_map(amap, pixel_threshold=0.0, peak_fraction=0.2, out_width=64, out_height=64)
    assert (wide.bbox.x, wide.bbox.width) == (20, 20)


def test_regions_are_sorted_by_peak_and_speckle_dropped() -> None:
    amap = np.zeros((64, 64), np.float32)
    amap[5:15, 5:15] = 3.0
    amap[40:60, 40:60] = 4.0
    amap[30, 30] = 5.0  # one map pixel = one output pixel: below min_area_px
    regions = regions_from_map(amap, pixel_threshold=0.5, out_width=64, out_height=64, min_area_px=4)
    assert [r.score for r in regions] == [4.0, 3.0]


def test_max_regions_caps_the_list() -> None:
    amap = np.zeros((64, 64), np.float32)
    for i in range(8):
        amap[i * 8 : i * 8 + 4, 0:4] = 10.0 + i
    assert len(regions_from_map(amap, pixel_threshold=0.5, out_width=64, out_height=64, max_regions=3)) == 3


def test_nan_is_no_rise_and_infinity_is_where_it_overflowed() -> None:
    amap = np.zeros((16, 16), np.float32)
    amap[:2] = np.nan
    amap[8:12, 8:12] = 3.0
    assert not np.isfinite(map_rise(amap)[:2]).any()
    (region,) = regions_from_map(amap, pixel_threshold=0.5, out_width=16, out_height=16, min_area_px=1)
    assert (region.bbox.x, region.bbox.y) == (8, 8)
    amap[1, 1] = np.inf
    assert region_mask(amap, pixel_threshold=0.5).sum() == 1


def test_good_rise_level_is_a_high_quantile_of_good_peaks() -> None:
    goods = [np.full((8, 8), 5.0, np.float32) for _ in range(99)]
    for i, g in enumerate(goods):
        g[0, 0] += i / 98  # peaks rise 0 .. 1 above the median
    assert good_rise_level(goods) == pytest.approx(0.99, abs=1e-3)
    with pytest.raises(InputError, match="at least one good map"):
        good_rise_level([])


def test_bad_input_is_refused() -> None:
    with pytest.raises(InputError, match="HxW"):
        regions_from_map(np.zeros((2, 3, 4), np.float32), pixel_threshold=0.0, out_width=8, out_height=8)
    with pytest.raises(InputError, match="peak_fraction"):
        region_mask(np.zeros((4, 4), np.float32), pixel_threshold=0.0, peak_fraction=1.0)
    with pytest.raises(InputError, match="output size"):
        regions_from_map(np.ones((4, 4), np.float32), pixel_threshold=0.0, out_width=0, out_height=8)
