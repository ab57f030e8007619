"""Defect regions from an anomaly map: where on the part the model saw something wrong.

**Relative to the map, not to the image threshold.** The map is the local map
lifted by how far the global z-score rises above its peak (``scoring``, fusion
``max``; ``z_local + z_global`` with the sum; packages of #24's third session floored
it at ``z_global`` instead): the global branch lifts every pixel of a part that is
unusual as a whole by the same amount, so on a failing part the map can sit above the
image threshold almost everywhere and a region "above the threshold" is the whole
crop. A region is therefore cut from the map *relative to itself*, which a lift of the
whole map does not change (the maximum's and the sum's maps give the same regions):

* the map's **median** is its baseline (it carries the global floor or offset and the
  typical local background, and a defect covers far less than half of a part);
* a pixel belongs to a region when it rises above that baseline by more than
  ``peak_fraction`` of the peak's rise (half-maximum by default: the blob's outline at
  half its height) **and** by more than ``pixel_threshold``, the rise a good part's map
  reaches (calibrated at training on the held-out good images, stored in the package's
  ``regions``), so a part whose map has no spot higher than a good part's gets no
  local region at all.

A region's **box** is that half-maximum core; its **class** (packages with named defect
classes) is read from the whole connected area around its peak that rises above
``pixel_threshold``: the core of a long scratch is a fragment of it, and the class
vectors of the few labelled examples are cut the same way (:func:`class_mask`).
Measured on the synthetic parts of the unit tests, 9 of 12 defects get their type with
the wide area, 7 with the core alone.

Measured on the demo line (``docs/detection.md``): the boxes cover the drawn defect in
every failing part and are ~3 % of the ROI (they were 60 %, often 100 %, with the image
threshold).

The map comes at the model's input resolution; the edge node ran the model on an ROI
crop that it stretched to that resolution, so boxes are scaled to the crop's size and
shifted by the crop's offset to land in full-frame pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np
import numpy.typing as npt

from lineguard.contracts.errors import InputError
from lineguard.contracts.events import MAX_REGIONS_PER_EVENT, BoundingBox, DefectRegion

__all__ = [
    "GOOD_PEAK_QUANTILE",
    "PEAK_FRACTION",
    "class_mask",
    "good_rise_level",
    "map_rise",
    "region_mask",
    "regions_from_map",
]

#: Share of the peak's rise above the map's median that outlines a region (half-maximum).
#: Measured on the demo line: 0.5 keeps the whole drawn defect inside the box in the
#: median part (0.7 cuts a sixth of it off, 0.3 doubles the box).
PEAK_FRACTION = 0.5
#: Quantile of the held-out good images' peak rises taken as the package's pixel threshold.
GOOD_PEAK_QUANTILE = 0.99


def _as_map(anomaly_map: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    amap = np.asarray(anomaly_map, dtype=np.float32)
    if amap.ndim == 3 and amap.shape[0] == 1:
        amap = amap[0]
    if amap.ndim != 2 or amap.size == 0:
        msg = f"anomaly map must be a non-empty HxW array, got shape {amap.shape}"
        raise InputError(msg)
    return amap


def map_rise(anomaly_map: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    """The map minus its own median (NaN counts as no rise): how far each pixel stands out."""
    amap = _as_map(anomaly_map)
    finite = np.isfinite(amap)
    if not finite.any():
        return np.zeros_like(amap)
    rise = amap - np.float32(np.median(amap[finite]))
    return np.where(finite | np.isposinf(amap), rise, np.float32(-np.inf)).astype(np.float32)


def region_mask(
    anomaly_map: npt.NDArray[np.floating],
    *,
    pixel_threshold: float,
    peak_fraction: float = PEAK_FRACTION,
) -> npt.NDArray[np.bool_]:
    """Pixels rising above the map's median by more than both ``pixel_threshold`` and
    ``peak_fraction`` of the peak's rise (see the module docstring)."""
    if not 0.0 < peak_fraction < 1.0:
        msg = f"peak_fraction must be in (0, 1), got {peak_fraction}"
        raise InputError(msg)
    rise = map_rise(anomaly_map)
    peak = float(rise.max())
    if np.isposinf(peak):  # an overflowed score: where it overflowed
        return np.isposinf(rise)
    if not peak > 0.0:  # flat (or empty) map: nothing stands out
        return np.zeros(rise.shape, bool)
    out: npt.NDArray[np.bool_] = rise > max(float(pixel_threshold), peak_fraction * peak)
    return out


def good_rise_level(good_maps: Sequence[npt.NDArray[np.floating]] | npt.NDArray[np.floating]) -> float:
    """The package's pixel threshold: the :data:`GOOD_PEAK_QUANTILE` quantile of the peak
    rise (max minus median) of each held-out good image's map."""
    rises = [float(map_rise(m).max()) for m in good_maps]
    if not rises:
        msg = "need at least one good map to calibrate the region level"
        raise InputError(msg)
    return max(0.0, float(np.quantile(np.asarray(rises), GOOD_PEAK_QUANTILE)))


def regions_from_map(
    anomaly_map: npt.NDArray[np.floating],
    *,
    pixel_threshold: float,
    out_width: int,
    out_height: int,
    offset_x: int = 0,
    offset_y: int = 0,
    peak_fraction: float = PEAK_FRACTION,
    min_area_px: int = 16,
    max_regions: int = MAX_REGIONS_PER_EVENT,
    defect_class: str = "anomaly",
    classify: Callable[[npt.NDArray[np.bool_]], str] | None = None,
) -> list[DefectRegion]:
    """Connected areas of :func:`region_mask` as boxes in output-frame pixels.

    ``out_width`` x ``out_height`` is the size of the image the map covers (the ROI crop,
    or the whole frame), ``offset_*`` where that image sits in the full frame. Areas
    smaller than ``min_area_px`` output pixels are dropped as speckle. Regions come
    sorted by peak score (the map's own value), highest first, at most ``max_regions``
    of them. ``classify`` (a package's named defect classes, see ``classes``) names each
    region from its class mask (see the module docstring) at the map's resolution;
    without it every region is ``defect_class``. A map with no spot standing out gives
    no region.
    """
    amap = _as_map(anomaly_map)
    if out_width < 1 or out_height < 1:
        msg = f"output size must be positive, got {out_width}x{out_height}"
        raise InputError(msg)
    if offset_x < 0 or offset_y < 0:
        msg = f"offsets must be >= 0, got ({offset_x}, {offset_y})"
        raise InputError(msg)
    rise = map_rise(amap)
    mask = region_mask(amap, pixel_threshold=pixel_threshold, peak_fraction=peak_fraction)
    if not mask.any():
        return []
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    wide = None if classify is None else _standing_out(rise, pixel_threshold)
    map_h, map_w = amap.shape
    sx, sy = out_width / map_w, out_height / map_h
    regions: list[DefectRegion] = []
    for label in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[label])
        if area * sx * sy < min_area_px:
            continue
        x0, y0 = int(np.floor(x * sx)), int(np.floor(y * sy))
        x1 = min(out_width, int(np.ceil((x + w) * sx)))
        y1 = min(out_height, int(np.ceil((y + h) * sy)))
        inside = labels == label
        peak = float(amap[inside].max())
        bbox = BoundingBox(x=x0 + offset_x, y=y0 + offset_y, width=max(1, x1 - x0), height=max(1, y1 - y0))
        if classify is None or wide is None:
            name = defect_class
        else:
            name = classify(inside | _component_at(wide, rise, inside))
        regions.append(DefectRegion(defect_class=name, score=peak, bbox=bbox))
    regions.sort(key=lambda r: r.score, reverse=True)
    return regions[:max_regions]


def _standing_out(rise: npt.NDArray[np.float32], pixel_threshold: float) -> npt.NDArray[np.int32]:
    """Connected areas rising above what a good part's map reaches (labels, 0 = none)."""
    _, labels = cv2.connectedComponents((rise > pixel_threshold).astype(np.uint8), connectivity=8)
    return np.asarray(labels, np.int32)


def _component_at(
    wide: npt.NDArray[np.int32], rise: npt.NDArray[np.float32], inside: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """The area standing out (``_standing_out``) around the peak of the region ``inside``."""
    peak = np.unravel_index(int(np.argmax(np.where(inside, rise, -np.inf))), rise.shape)
    label = int(wide[peak])
    out: npt.NDArray[np.bool_] = wide == label if label else np.zeros(rise.shape, bool)
    return out


def class_mask(anomaly_map: npt.NDArray[np.floating], *, pixel_threshold: float) -> npt.NDArray[np.bool_]:
    """What a region's class is read from, for the map's main region (the one holding its
    peak): the whole area around the peak that rises above ``pixel_threshold``, not only
    the half-maximum core the box outlines (see the module docstring); the core alone
    where nothing rises that far, and the whole map where nothing stands out at all."""
    rise = map_rise(anomaly_map)
    core = region_mask(anomaly_map, pixel_threshold=0.0)
    if not core.any():
        return np.ones(rise.shape, bool)
    _, labels = cv2.connectedComponents(core.astype(np.uint8), connectivity=8)
    peak = np.unravel_index(int(np.argmax(np.where(core, rise, -np.inf))), rise.shape)
    main: npt.NDArray[np.bool_] = labels == labels[peak]
    return main | _component_at(_standing_out(rise, pixel_threshold), rise, main)
