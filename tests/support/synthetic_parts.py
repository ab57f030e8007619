"""A small synthetic inspection dataset in MVTec AD layout, for tests that must not need ../shared.

Good parts: a brushed-metal-like surface (vertical streaks + noise + a lighting gradient),
of varying size and brightness. Defects: a dark blob ("hole") or a bright line
("scratch"), each with its pixel mask in ``ground_truth``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

__all__ = ["render_part", "write_synthetic_dataset"]


def render_part(rng: np.random.Generator, *, defect: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(gray uint8 image, bool mask) of one part."""
    h = int(rng.integers(90, 130))
    w = int(rng.integers(90, 130))
    streaks = rng.normal(0, 6, size=(1, w)).repeat(h, axis=0)
    noise = rng.normal(0, 4, size=(h, w))
    gradient = np.linspace(-10, 10, h)[:, None]
    image = 120 + float(rng.normal(0, 6)) + streaks + noise + gradient
    mask = np.zeros((h, w), dtype=np.uint8)
    if defect == "hole":
        cy, cx = int(rng.integers(20, h - 20)), int(rng.integers(20, w - 20))
        cv2.circle(mask, (cx, cy), int(rng.integers(6, 11)), 1, -1)
        image[mask > 0] -= 70
    elif defect == "scratch":
        x0, y0 = int(rng.integers(10, w - 10)), int(rng.integers(5, h // 3))
        x1, y1 = int(rng.integers(10, w - 10)), int(rng.integers(2 * h // 3, h - 5))
        cv2.line(mask, (x0, y0), (x1, y1), 1, 3)
        image[mask > 0] += 80
    return np.clip(image, 0, 255).astype(np.uint8), mask.astype(bool)


def write_synthetic_dataset(
    root: Path, *, n_train: int = 40, n_test_good: int = 10, n_per_defect: int = 6, seed: int = 0
) -> Path:
    rng = np.random.default_rng(seed)
    for i in range(n_train):
        path = root / "train" / "good" / f"{i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), render_part(rng)[0])
    for i in range(n_test_good):
        path = root / "test" / "good" / f"{i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), render_part(rng)[0])
    for defect in ("hole", "scratch"):
        for i in range(n_per_defect):
            image, mask = render_part(rng, defect=defect)
            path = root / "test" / defect / f"{i:03d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), image)
            mpath = root / "ground_truth" / defect / f"{i:03d}_mask.png"
            mpath.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(mpath), mask.astype(np.uint8) * 255)
    return root
