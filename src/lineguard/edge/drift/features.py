"""Cheap image statistics of a part's region that move when the camera's world changes.

A model is only as good as the match between the images it was calibrated on and the
images it sees. Most of what breaks that match on a line is physical and shows in simple
statistics of the inspection region, long before anyone notices the verdicts changing:

* **brightness** (mean grey) and **contrast** (grey standard deviation): a lamp ageing or
  replaced, daylight through a new window, an exposure setting changed;
* **focus** (log variance of the Laplacian): a lens knocked, vibration, a dirty window;
  the logarithm turns "half as sharp" into the same shift at any sharpness;
* **position** (centroid of edge energy, as a fraction of the region from its centre): a
  fixture or the camera moved, so the part sits elsewhere in the region.

All are computed on the region downscaled to at most 256 pixels a side (about 0.3 ms),
on the decisive frame of each part only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from lineguard.contracts.errors import InputError

__all__ = ["IMAGE_STATISTICS", "ImageStats", "image_stats"]

#: Longest side the statistics are computed at.
_SIDE = 256


@dataclass(frozen=True)
class ImageStats:
    brightness: float
    contrast: float
    focus: float
    position_x: float
    position_y: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


#: The statistics :class:`ImageStats` carries, in order.
IMAGE_STATISTICS = ("brightness", "contrast", "focus", "position_x", "position_y")


def image_stats(region: np.ndarray) -> ImageStats:
    """The statistics of one inspection region (BGR or grey, uint8)."""
    if region.ndim not in (2, 3) or region.size == 0 or region.dtype != np.uint8:
        msg = f"drift statistics need a non-empty uint8 image, got {region.dtype} of shape {region.shape}"
        raise InputError(msg)
    grey = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY) if region.ndim == 3 else region
    h, w = grey.shape
    scale = min(1.0, _SIDE / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    g = grey.astype(np.float32)
    laplacian = cv2.Laplacian(g, cv2.CV_32F)
    gx, gy = cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1)
    energy = np.hypot(gx, gy)
    total = float(energy.sum())
    if total > 0:
        ys, xs = np.indices(energy.shape, dtype=np.float32)
        cx = float((energy * xs).sum()) / total / max(1, energy.shape[1] - 1) - 0.5
        cy = float((energy * ys).sum()) / total / max(1, energy.shape[0] - 1) - 0.5
    else:  # a flat region (lens cap, dark): no edges to place
        cx = cy = 0.0
    return ImageStats(
        brightness=float(g.mean()),
        contrast=float(g.std()),
        focus=float(np.log1p(laplacian.var())),
        position_x=cx,
        position_y=cy,
    )
