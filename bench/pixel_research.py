"""What the pixel-map research benchmarks share: the product fitted on its own split, and its test maps.

``bench_pixel_ceiling.py`` and ``bench_pixel_synthetic.py`` both start the same way:
scan the dataset, split off the held-out good images exactly as training does
(``split_holdout``), fit the product (``fit_detector``: same backbone, same fitted
statistics, same normalisation as a trained package), then run every test image
through it once, keeping the local embedding, the standardised local map, the
standardised global distance and the fused product map (maps at ``EVAL`` x ``EVAL``,
where pixel AUROC is measured), with the ground-truth masks and defect types beside
them. A caller that needs more from the same backbone pass hands in ``keep``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the universal torch idiom

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lineguard.vision.dataset import LabelledImage, scan_dataset  # noqa: E402
from lineguard.vision.evaluate import load_mask  # noqa: E402
from lineguard.vision.train import FittedDetector, TrainConfig, fit_detector, load_inputs, split_holdout  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "magnetic-tile"
EVAL = 128  # pixel-metric resolution
BATCH = 16

#: Backbone outputs of one batch -> a tensor the caller keeps (one row per image).
Keep = Callable[[list[torch.Tensor]], torch.Tensor]


@dataclass(frozen=True, slots=True)
class TestMaps:
    """The fitted product and what it says about every test image (maps at EVAL x EVAL)."""

    fitted: FittedDetector
    test: list[LabelledImage]
    types: np.ndarray  # [N] defect type, "good" for good parts
    labels: np.ndarray  # [N] bool: is a defect
    masks: np.ndarray  # [N, EVAL, EVAL] bool
    emb: torch.Tensor  # [N, C, h, w] the local embedding the product's Gaussians read
    z_local: np.ndarray  # [N, EVAL, EVAL] local map, standardised on the held-out images
    z_global: np.ndarray  # [N] global distance, standardised on the held-out images
    product: np.ndarray  # [N, EVAL, EVAL] the product's fused map
    scores: np.ndarray  # [N] the product's image score (max of its full-size map)
    kept: torch.Tensor | None  # what ``keep`` returned, concatenated
    seconds: float  # fitting + test maps


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--threads", type=int, default=2)


def resize(maps: torch.Tensor, size: int) -> np.ndarray:
    return F.interpolate(maps[:, None], size=(size, size), mode="bilinear", align_corners=False)[:, 0].numpy()


def zscore(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() + 1e-12)


def fit_and_map(data: Path, threads: int, keep: Keep | None = None) -> TestMaps:
    """Fit the product on ``data``'s split and map its test images; exits if ``data`` is missing."""
    if not data.is_dir():
        sys.exit(f"dataset not found: {data} (the shared datasets live in ../shared/datasets)")
    torch.set_num_threads(threads)
    started = time.perf_counter()
    ds = scan_dataset(data, require_test=True)
    fit_paths, holdout_paths = split_holdout(data, ds.train_good, TrainConfig().holdout_fraction)
    fitted = fit_detector(fit_paths, holdout_paths, TrainConfig(threads=threads))
    head = fitted.detector.head
    test = list(ds.test)

    embs, z_local, z_global, product, scores, kept = [], [], [], [], [], []
    for start in range(0, len(test), BATCH):
        x = torch.from_numpy(
            load_inputs([i.path for i in test[start : start + BATCH]], fitted.config.image_size)
        )
        with torch.no_grad():
            feats = fitted.detector.backbone(x)
            emb, desc = head.parts(feats)
            local_map, gdist = head.raw_from_parts(emb, desc)
            score, fused = head.combine(local_map, gdist)
            if keep is not None:
                kept.append(keep(feats))
        embs.append(emb)
        z_local.append(resize((local_map - head.norm[0]) / head.norm[1], EVAL))
        z_global.append(((gdist - head.norm[2]) / head.norm[3]).numpy())
        product.append(resize(fused, EVAL))
        scores.append(score.numpy())
    return TestMaps(
        fitted=fitted,
        test=test,
        types=np.array([i.label for i in test]),
        labels=np.array([i.is_defect for i in test]),
        masks=np.stack([load_mask(i.mask, EVAL, EVAL) for i in test]),
        emb=torch.cat(embs),
        z_local=np.concatenate(z_local),
        z_global=np.concatenate(z_global),
        product=np.concatenate(product),
        scores=np.concatenate(scores),
        kept=torch.cat(kept) if keep is not None else None,
        seconds=time.perf_counter() - started,
    )
