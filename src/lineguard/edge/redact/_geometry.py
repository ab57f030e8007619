"""Pixel geometry shared by the detectors: tiles, letterboxing, box growth, merging.

Small people vanish when a 1280x720 frame is squeezed into a 224-pixel model input,
so the detectors also look at overlapping square tiles (a tile's side is a fraction of
the frame's short side). Boxes are grown before hiding because a box that hugs a face
leaves hair, ears and the neck visible.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lineguard.contracts.types import Frame
from lineguard.edge.redact._types import Box

__all__ = ["Letterboxed", "Tile", "grow_box", "letterbox", "merge_count", "square_tiles", "tile_inputs"]


@dataclass(frozen=True, slots=True)
class Tile:
    x: int
    y: int
    side: int


def square_tiles(height: int, width: int, fraction: float) -> list[Tile]:
    """Squares of side ``fraction * min(height, width)`` covering the frame with >= 25% overlap."""
    side = min(height, width, max(16, round(min(height, width) * fraction)))
    step = max(1, int(side * 0.75))

    def starts(length: int) -> list[int]:
        if length <= side:
            return [0]
        count = -(-(length - side) // step) + 1
        return [round(i * (length - side) / (count - 1)) for i in range(count)]

    return [Tile(x, y, side) for y in starts(height) for x in starts(width)]


def tile_inputs(image: Frame, tiles: list[Tile], size: int) -> Iterator[tuple[Tile, float, Frame]]:
    """``(tile, scale, size x size crop)`` for every tile, resizing the frame once per tile side.

    Cutting tiles from one downscaled copy costs one resize per tile size instead of
    one per tile. ``scale`` maps tile pixels to crop pixels.
    """
    import cv2

    height, width = image.shape[:2]
    for side in sorted({t.side for t in tiles}, reverse=True):
        scale = size / side
        scaled_w, scaled_h = max(size, round(width * scale)), max(size, round(height * scale))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        scaled = cv2.resize(image, (scaled_w, scaled_h), interpolation=interpolation)
        for t in tiles:
            if t.side != side:
                continue
            x = min(round(t.x * scale), scaled_w - size)
            y = min(round(t.y * scale), scaled_h - size)
            yield t, scale, np.asarray(scaled[y : y + size, x : x + size], dtype=np.uint8)


@dataclass(frozen=True, slots=True)
class Letterboxed:
    """A crop resized into a square model input, with the mapping back to crop pixels."""

    image: Frame
    scale: float
    pad_x: int
    pad_y: int

    def to_crop(self, xy: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Model-input pixel coordinates (..., 2) → crop pixel coordinates."""
        offset = np.array([self.pad_x, self.pad_y], np.float32)
        return ((xy - offset) / self.scale).astype(np.float32)


def letterbox(image: Frame, size: int) -> Letterboxed:
    """Fit ``image`` into ``size x size`` keeping its aspect ratio; pad with black."""
    import cv2

    height, width = image.shape[:2]
    scale = size / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    canvas = np.zeros((size, size, 3), np.uint8)
    pad_y, pad_x = (size - new_h) // 2, (size - new_w) // 2
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = cv2.resize(
        image, (new_w, new_h), interpolation=cv2.INTER_AREA
    )
    return Letterboxed(canvas, scale, pad_x, pad_y)


def grow_box(
    x0: float,
    y0: float,
    x1: float,
    y1: float,
    *,
    frame_hw: tuple[int, int],
    side: float,
    top: float,
    bottom: float,
) -> Box | None:
    """Grow a box by fractions of its width (sides) and height (top, bottom); clip; None if empty."""
    width, height = x1 - x0, y1 - y0
    gx0 = int(np.floor(x0 - width * side)) - 2
    gx1 = int(np.ceil(x1 + width * side)) + 2
    gy0 = int(np.floor(y0 - height * top)) - 2
    gy1 = int(np.ceil(y1 + height * bottom)) + 2
    box = Box(max(0, gx0), max(0, gy0), min(frame_hw[1], gx1), min(frame_hw[0], gy1))
    return box if box.area > 0 else None


def merge_count(boxes: list[Box]) -> int:
    """How many groups of mutually overlapping boxes there are (one group ≈ one person)."""
    parent = list(range(len(boxes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(boxes):
        for j in range(i + 1, len(boxes)):
            b = boxes[j]
            inter_w = min(a.x1, b.x1) - max(a.x0, b.x0)
            inter_h = min(a.y1, b.y1) - max(a.y0, b.y0)
            # Overlap of at least a third of the smaller box: the same person seen by two cues.
            if inter_w > 0 and inter_h > 0 and inter_w * inter_h >= min(a.area, b.area) / 3:
                parent[find(i)] = find(j)
    return len({find(i) for i in range(len(boxes))})
