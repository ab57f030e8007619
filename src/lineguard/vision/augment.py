"""Nuisance copies of good images: what a plant tolerates between two calibrations.

A good part photographed a little brighter, a little softer, a few pixels off or with a
little more sensor noise is still a good part, but a model that learned only the
training images' own look flags it (issue #24: blur of 1 px and noise of σ 5 flagged
~98 % of magnetic tile's good images). Training therefore fits the Gaussians on the
good images **and** on deterministic nuisance copies of them (``TrainConfig.nuisance_copies``):
the statistics then cover these variations, while the held-out images that standardise
the branches and set the threshold stay as photographed.

Each copy applies, in the order a camera sees them, a random draw of every nuisance
within :class:`NuisanceRanges`: the part's pose (shift and rotation), the light (a gain),
the lens (Gaussian blur), the sensor (Gaussian noise). Draws come from a generator
seeded by the image's index and the copy number, so the same data gives the same
package. The measurement that chose this (suite-wide false rejects under nuisances,
and defect recall with and without it) is in ``docs/detection.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from lineguard.contracts.errors import InputError

__all__ = ["DEFAULT_RANGES", "NuisanceRanges", "nuisance_copy"]

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class NuisanceRanges:
    """Largest nuisance of each kind a copy may get (each drawn uniformly up to it)."""

    #: Relative change of brightness (0.2: a gain between 0.8 and 1.2).
    light: float = 0.2
    #: Gaussian blur sigma, in pixels of a 256-px input (scaled with the input size).
    blur_px: float = 1.5
    #: Shift along each axis, in pixels of a 256-px input (scaled with the input size).
    shift_px: float = 6.0
    #: Rotation about the image centre, in degrees.
    rotate_deg: float = 3.0
    #: Standard deviation of additive sensor noise, in 8-bit grey levels.
    noise: float = 8.0

    def check(self) -> None:
        values = (self.light, self.blur_px, self.shift_px, self.rotate_deg, self.noise)
        if any(not np.isfinite(v) or v < 0 for v in values) or self.light >= 1:
            msg = f"nuisance ranges must be finite and >= 0 (light < 1), got {self}"
            raise InputError(msg)


DEFAULT_RANGES = NuisanceRanges()


def nuisance_copy(image: Image, seed: int, ranges: NuisanceRanges = DEFAULT_RANGES) -> Image:
    """A copy of ``image`` (BGR uint8, already at the model's input size) under one random
    draw of every nuisance (see the module docstring); ``seed`` makes the draw."""
    ranges.check()
    if image.ndim != 3 or image.dtype != np.uint8 or image.size == 0:
        msg = f"expected a BGR uint8 image, got shape {image.shape} dtype {image.dtype}"
        raise InputError(msg)
    rng = np.random.default_rng([24, seed])
    h, w = image.shape[:2]
    scale = min(h, w) / 256.0
    dx, dy = rng.uniform(-1, 1, 2) * ranges.shift_px * scale
    angle = float(rng.uniform(-1, 1) * ranges.rotate_deg)
    gain = 1.0 + float(rng.uniform(-1, 1) * ranges.light)
    blur = float(rng.uniform(0, 1) * ranges.blur_px * scale)
    noise = float(rng.uniform(0, 1) * ranges.noise)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    m[0, 2] += dx
    m[1, 2] += dy
    out = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    pixels: npt.NDArray[np.float32] = np.asarray(out, np.float32) * np.float32(gain)
    if blur > 0.05:
        pixels = np.asarray(cv2.GaussianBlur(pixels, (0, 0), blur), np.float32)
    pixels += rng.normal(0.0, 1.0, pixels.shape).astype(np.float32) * np.float32(noise)
    result: Image = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    return result
