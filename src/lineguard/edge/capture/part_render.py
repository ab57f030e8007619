"""Rendering of synthetic machined parts, with or without a defect.

A part is a stamped steel bracket: a rounded plate with four mounting holes and a
centre bore, a brushed surface, a chamfered edge catching the light, a soft shadow on
the belt, and a random small rotation and lighting direction. Defects are the four
kinds a plant asks about first:

``scratch``       a thin bright groove with a dark lip
``dent``          a shallow pit, lit on one side and shaded on the other
``contamination`` an oily, irregular dark blob
``missing_hole``  one mounting hole was never punched

Everything comes from the ``numpy`` generator passed in, so a part is a pure function
of its seed; the defect's mask is returned for ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from lineguard.contracts.types import Frame

__all__ = ["DEFECT_KINDS", "DefectKind", "RenderedPart", "render_part"]

DefectKind = Literal["scratch", "dent", "contamination", "missing_hole"]
DEFECT_KINDS: tuple[DefectKind, ...] = ("scratch", "dent", "contamination", "missing_hole")

Mask = npt.NDArray[np.uint8]
#: Radius of the centre bore, as a share of the part's size.
CENTRE_BORE = 0.11


@dataclass(frozen=True, slots=True)
class RenderedPart:
    """A part sprite: colour, where it is opaque, and where its defect is (0/255 masks)."""

    image: Frame
    alpha: Mask
    defect_mask: Mask
    defect: DefectKind | None


def _plate_mask(size: int, rng: np.random.Generator) -> tuple[Mask, list[tuple[int, int]], float]:
    """Rounded plate, rotated a little; returns the mask, hole centres and hole radius."""
    mask = np.zeros((size, size), np.uint8)
    w, h, r = int(size * 0.86), int(size * 0.66), int(size * 0.1)
    x0, y0 = (size - w) // 2, (size - h) // 2
    cv2.rectangle(mask, (x0 + r, y0), (x0 + w - r, y0 + h), 255, -1)
    cv2.rectangle(mask, (x0, y0 + r), (x0 + w, y0 + h - r), 255, -1)
    for cx, cy in ((x0 + r, y0 + r), (x0 + w - r, y0 + r), (x0 + r, y0 + h - r), (x0 + w - r, y0 + h - r)):
        cv2.circle(mask, (cx, cy), r, 255, -1)
    inset = int(size * 0.15)
    holes = [(x0 + inset, y0 + inset), (x0 + w - inset, y0 + inset)]
    holes += [(x0 + inset, y0 + h - inset), (x0 + w - inset, y0 + h - inset)]
    angle = float(rng.uniform(-4, 4))
    rot = cv2.getRotationMatrix2D((size / 2, size / 2), angle, 1.0)
    mask = np.asarray(cv2.warpAffine(mask, rot, (size, size), flags=cv2.INTER_LINEAR), np.uint8)
    rotated = [
        (int(rot[0, 0] * x + rot[0, 1] * y + rot[0, 2]), int(rot[1, 0] * x + rot[1, 1] * y + rot[1, 2]))
        for x, y in holes
    ]
    return mask, rotated, size * 0.055


def _brushed_steel(size: int, rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """Grey level of brushed steel with a random lighting gradient, float32 0..255."""
    grain = rng.normal(0.0, 1.0, (size, size)).astype(np.float32)
    grain = cv2.blur(grain, (41, 1)) * 30.0  # brushing runs along x
    fine = rng.normal(0.0, 3.0, (size, size)).astype(np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    theta = rng.uniform(0, 2 * np.pi)
    light = (np.cos(theta) * (xx - 0.5) + np.sin(theta) * (yy - 0.5)) * float(rng.uniform(30, 55))
    base = float(rng.uniform(140, 165))
    return np.asarray(base + grain + fine + light, np.float32)


def _defect(
    kind: DefectKind,
    grey: npt.NDArray[np.float32],
    plate: Mask,
    holes: list[tuple[int, int]],
    hole_r: float,
    rng: np.random.Generator,
) -> tuple[npt.NDArray[np.float32], Mask, int]:
    """Apply one defect to the grey image; returns image, defect mask, index of a hole to skip (-1)."""
    size = grey.shape[0]
    mask = np.zeros((size, size), np.uint8)
    # A defect sits on metal: not in a mounting hole or the centre bore (punched out after
    # this, so a dent placed there was invisible while the truth called the part
    # defective — the demo's "missed" dents, docs/benchmarks.md), nor on their rims.
    metal = plate.copy()
    clearance = int(size * 0.02) + 6
    for (hx, hy), r in [*((h, hole_r) for h in holes), ((size // 2, size // 2), size * CENTRE_BORE)]:
        cv2.circle(metal, (hx, hy), int(r) + clearance, 0, -1)
    ys, xs = np.nonzero(cv2.erode(metal, np.ones((int(size * 0.12),) * 2, np.uint8)))
    pick = int(rng.integers(len(xs)))
    cx, cy = int(xs[pick]), int(ys[pick])
    if kind == "missing_hole":
        skip = int(rng.integers(len(holes)))
        hx, hy = holes[skip]
        cv2.circle(mask, (hx, hy), int(hole_r * 1.6), 255, -1)
        return grey, mask, skip
    if kind == "scratch":
        length = rng.uniform(0.2, 0.4) * size
        ang = rng.uniform(0, np.pi)
        pts = [(cx, cy)]
        for _ in range(3):
            ang += rng.normal(0, 0.15)
            px, py = pts[-1]
            pts.append((int(px + np.cos(ang) * length / 3), int(py + np.sin(ang) * length / 3)))
        poly = np.array(pts, np.int32).reshape(-1, 1, 2)
        dark = np.zeros_like(grey)
        cv2.polylines(dark, [poly + 2], False, 1.0, 2)
        bright = np.zeros_like(grey)
        cv2.polylines(bright, [poly], False, 1.0, int(rng.integers(1, 3)))
        grey = grey - 55 * dark + 80 * bright
        cv2.polylines(mask, [poly], False, 255, 5)
    elif kind == "dent":
        r = int(rng.uniform(0.035, 0.06) * size)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        d2 = ((xx - cx) ** 2 + (yy - cy) ** 2) / float(r * r)
        bowl = np.exp(-d2 * 1.5)
        ang = rng.uniform(0, 2 * np.pi)
        shade = (np.cos(ang) * (xx - cx) + np.sin(ang) * (yy - cy)) / r
        grey = grey + 70 * bowl * np.clip(shade, -1.5, 1.5) - 35 * bowl
        cv2.circle(mask, (cx, cy), int(r * 1.3), 255, -1)
    else:  # contamination
        blob = np.zeros((size, size), np.float32)
        for _ in range(int(rng.integers(3, 7))):
            ox, oy = rng.normal(0, size * 0.03, 2)
            cv2.circle(blob, (int(cx + ox), int(cy + oy)), int(rng.uniform(0.015, 0.04) * size), 1.0, -1)
        blob = np.asarray(cv2.GaussianBlur(blob, (0, 0), 2.5), np.float32)
        grey = grey * (1 - 0.65 * blob) + 25 * blob
        mask = (blob > 0.2).astype(np.uint8) * 255
    return grey.astype(np.float32), np.asarray(cv2.bitwise_and(mask, plate), np.uint8), -1


def render_part(size: int, rng: np.random.Generator, defect: DefectKind | None = None) -> RenderedPart:
    """Render one part of ``size`` x ``size`` pixels (BGR) with an optional defect."""
    plate, holes, hole_r = _plate_mask(size, rng)
    grey = _brushed_steel(size, rng)
    defect_mask = np.zeros((size, size), np.uint8)
    skip = -1
    if defect is not None:
        grey, defect_mask, skip = _defect(defect, grey, plate, holes, hole_r, rng)
    # Chamfered rim: a light band just inside the edge, a dark one outside it.
    rim = cv2.subtract(plate, cv2.erode(plate, np.ones((5, 5), np.uint8)))
    grey = np.where(rim > 0, grey + 45, grey)
    alpha = plate.copy()
    centre = (size // 2, size // 2)
    bores = [(h, hole_r) for i, h in enumerate(holes) if i != skip] + [(centre, size * CENTRE_BORE)]
    for (hx, hy), r in bores:
        cv2.circle(alpha, (hx, hy), int(r), 0, -1)
        ring = np.zeros((size, size), np.uint8)
        cv2.circle(ring, (hx, hy), int(r) + 3, 255, 3)
        grey = np.where(ring > 0, grey + 35, grey)
    tint = np.array([1.0, 0.99, 0.96], np.float32) * float(rng.uniform(0.97, 1.03))  # BGR: slightly cool
    image = np.clip(grey[:, :, None] * tint, 0, 255).astype(np.uint8)
    return RenderedPart(image=image, alpha=alpha, defect_mask=defect_mask, defect=defect)
