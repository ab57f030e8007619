"""Defect regions from an anomaly map: where on the part the model saw something wrong.

The map comes at the model's input resolution; the edge node ran the model on an ROI
crop that it stretched to that resolution, so boxes are scaled to the crop's size and
shifted by the crop's offset to land in full-frame pixels.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt

from lineguard.contracts.errors import InputError
from lineguard.contracts.events import MAX_REGIONS_PER_EVENT, BoundingBox, DefectRegion

__all__ = ["regions_from_map"]


def regions_from_map(
    anomaly_map: npt.NDArray[np.floating],
    *,
    threshold: float,
    out_width: int,
    out_height: int,
    offset_x: int = 0,
    offset_y: int = 0,
    min_area_px: int = 16,
    max_regions: int = MAX_REGIONS_PER_EVENT,
    defect_class: str = "anomaly",
    classify: Callable[[npt.NDArray[np.bool_]], str] | None = None,
) -> list[DefectRegion]:
    """Connected areas of ``anomaly_map > threshold`` as boxes in output-frame pixels.

    ``out_width`` x ``out_height`` is the size of the image the map covers (the ROI crop,
    or the whole frame), ``offset_*`` where that image sits in the full frame. Areas
    smaller than ``min_area_px`` output pixels are dropped as speckle. Regions come
    sorted by peak score, highest first, at most ``max_regions`` of them. ``classify``
    (a package's named defect classes, see ``classes``) names each region from its mask
    at the map's resolution; without it every region is ``defect_class``.
    """
    amap = np.asarray(anomaly_map, dtype=np.float32)
    if amap.ndim == 3 and amap.shape[0] == 1:
        amap = amap[0]
    if amap.ndim != 2 or amap.size == 0:
        msg = f"anomaly map must be a non-empty HxW array, got shape {amap.shape}"
        raise InputError(msg)
    if out_width < 1 or out_height < 1:
        msg = f"output size must be positive, got {out_width}x{out_height}"
        raise InputError(msg)
    if offset_x < 0 or offset_y < 0:
        msg = f"offsets must be >= 0, got ({offset_x}, {offset_y})"
        raise InputError(msg)
    amap = np.where(np.isnan(amap), np.float32(-np.inf), amap)
    mask = (amap > threshold).astype(np.uint8)
    if not mask.any():
        return []
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
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
        name = defect_class if classify is None else classify(inside)
        regions.append(DefectRegion(defect_class=name, score=peak, bbox=bbox))
    regions.sort(key=lambda r: r.score, reverse=True)
    return regions[:max_regions]
