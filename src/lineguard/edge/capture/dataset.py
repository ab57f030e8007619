"""Write an MVTec-AD-layout dataset from the synthetic line, for training a demo model.

::

    root/train/good/000.png                 good parts (the model learns only these)
    root/test/good/000.png                  held-out good parts
    root/test/<defect>/000.png              defective parts, one folder per defect kind
    root/ground_truth/<defect>/000_mask.png where the defect is (255) — for pixel metrics

Images are the camera's region of interest (:meth:`SyntheticLine.part_roi`) resized to
``size`` x ``size``: exactly what the node's model sees at run time, creeping position,
lighting flicker and sensor noise included.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from lineguard.config.edge import SyntheticSource
from lineguard.contracts.errors import InputError
from lineguard.edge.capture.part_render import DEFECT_KINDS, render_part
from lineguard.edge.capture.synthetic import SyntheticLine

__all__ = ["write_mvtec_dataset"]


def _write(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        msg = f"cannot write {path}"
        raise InputError(msg)


def write_mvtec_dataset(
    root: Path,
    *,
    n_train_good: int = 200,
    n_test_good: int = 20,
    n_test_per_defect: int = 10,
    size: int = 256,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Render the dataset under ``root`` (created; must be empty or absent) and return it."""
    if root.exists() and any(root.iterdir()):
        msg = f"{root} is not empty; choose a new directory for the dataset"
        raise InputError(msg)
    line = SyntheticLine(
        "dataset",
        SyntheticSource(type="synthetic", seed=seed, defect_rate=0.0, person_rate=0.0),
        realtime=False,
    )
    roi = line.part_roi()
    total = n_train_good + n_test_good + n_test_per_defect * len(DEFECT_KINDS)
    done = 0
    rng = np.random.default_rng([seed, 11])

    def crop(image: np.ndarray) -> np.ndarray:
        cut = image[roi.y : roi.y + roi.height, roi.x : roi.x + roi.width]
        return cv2.resize(cut, (size, size), interpolation=cv2.INTER_AREA)

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    # Good parts: parts 0.. of a defect-free line, at random points of their dwell.
    for split, count, offset in (("train", n_train_good, 0), ("test", n_test_good, n_train_good)):
        for i in range(count):
            fid = (offset + i) * line.frames_per_part + int(rng.integers(line.frames_per_part))
            _write(root / split / "good" / f"{i:03d}.png", crop(line.render(fid)))
            tick()
    # Defective parts: render with a forced defect on fresh part indices.
    base = n_train_good + n_test_good
    for k, kind in enumerate(DEFECT_KINDS):
        for i in range(n_test_per_defect):
            index = base + k * n_test_per_defect + i
            fid = index * line.frames_per_part + int(rng.integers(line.frames_per_part))
            part = render_part(line.part_size, np.random.default_rng([seed, index, 3]), kind)
            image, mask = line.render_with(fid, part)
            _write(root / "test" / kind / f"{i:03d}.png", crop(image))
            _write(
                root / "ground_truth" / kind / f"{i:03d}_mask.png",
                (crop(mask[:, :, None].repeat(3, 2))[:, :, 0] > 127).astype(np.uint8) * 255,
            )
            tick()
    return root
