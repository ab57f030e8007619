"""How far can a pixel map on our features go? The supervised ceiling behind docs/detection.md.

    nice -n 5 .venv/bin/python bench/bench_pixel_ceiling.py            # ../shared/datasets/magnetic-tile
    nice -n 5 .venv/bin/python bench/bench_pixel_ceiling.py --conv     # also the small convolutional probe

The product learns from good parts only. To tell "our read-out is weak" from "the
features do not encode the defect", this script cheats on purpose: it trains probes on
the *test* masks of one defect type (5-fold, split by image, so no image scores itself)
over the product's local embedding (and its per-image centred copy), adds the probe's
z-scored map to the product's local map, and reports the pooled pixel AUROC. If even
that stays under a target, no unsupervised map on the same features can be expected
to reach it. Same split, same backbone and same fitted statistics as the product
(``fit_detector``); pixel AUROC at 128 x 128, pooled over every test image.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the universal torch idiom

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lineguard.vision.dataset import scan_dataset  # noqa: E402
from lineguard.vision.evaluate import load_mask  # noqa: E402
from lineguard.vision.metrics import auroc  # noqa: E402
from lineguard.vision.train import TrainConfig, fit_detector, load_inputs, split_holdout  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "magnetic-tile"
EVAL = 128  # pixel-metric resolution
FOLDS = 5


def _resize(maps: torch.Tensor, size: int) -> np.ndarray:
    return F.interpolate(maps[:, None], size=(size, size), mode="bilinear", align_corners=False)[:, 0].numpy()


def _zscore(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() + 1e-12)


def _linear_probe(train_x: torch.Tensor, train_y: torch.Tensor, keep: torch.Tensor) -> torch.nn.Module:
    """Logistic regression (L2, LBFGS) on standardised per-position features."""
    head = torch.nn.Conv2d(train_x.shape[1], 1, 1)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    opt = torch.optim.LBFGS(head.parameters(), max_iter=200)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        out = head(train_x)[:, 0]
        loss = F.binary_cross_entropy_with_logits(out[keep], train_y[keep]) + 1e-3 * head.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return head


def _conv_probe(train_x: torch.Tensor, train_y: torch.Tensor, keep: torch.Tensor) -> torch.nn.Module:
    """Two 3x3 convolutions of 64 channels: non-linear, with some spatial context."""
    torch.manual_seed(0)
    c = train_x.shape[1]
    head = torch.nn.Sequential(
        torch.nn.Conv2d(c, 64, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(64, 64, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(64, 1, 1),
    )
    opt = torch.optim.Adam(head.parameters(), 1e-3, weight_decay=1e-4)
    for _ in range(30):
        for batch in torch.randperm(len(train_x)).split(32):
            out = head(train_x[batch])[:, 0]
            k = keep[batch]
            loss = F.binary_cross_entropy_with_logits(out[k], train_y[batch][k])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return head


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--defect", default="uneven", help="the defect type whose masks the probes learn")
    parser.add_argument("--conv", action="store_true", help="also train the convolutional probe (slower)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not args.data.is_dir():
        sys.exit(f"dataset not found: {args.data} (the shared datasets live in ../shared/datasets)")
    torch.set_num_threads(args.threads)
    started = time.perf_counter()

    ds = scan_dataset(args.data, require_test=True)
    fit_paths, holdout_paths = split_holdout(args.data, ds.train_good, TrainConfig().holdout_fraction)
    fitted = fit_detector(fit_paths, holdout_paths, TrainConfig(threads=args.threads))
    head = fitted.detector.head
    test = list(ds.test)
    types = np.array([i.label for i in test])
    masks = np.stack([load_mask(i.mask, EVAL, EVAL) for i in test])

    embs, z_local, product = [], [], []
    for start in range(0, len(test), 16):
        x = torch.from_numpy(
            load_inputs([i.path for i in test[start : start + 16]], fitted.config.image_size)
        )
        with torch.no_grad():
            emb, desc = head.parts(fitted.detector.backbone(x))
            local_map, gdist = head.raw_from_parts(emb, desc)
            _, fused = head.combine(local_map, gdist)
        embs.append(emb)
        z_local.append(_resize((local_map - head.norm[0]) / head.norm[1], EVAL))
        product.append(_resize(fused, EVAL))
    emb = torch.cat(embs)
    local = np.concatenate(z_local)
    product_map = np.concatenate(product)

    print(
        f"{len(test)} test images, {int(masks.sum())} defect pixels ({args.defect}: "
        f"{int(masks[types == args.defect].sum())}), features in {time.perf_counter() - started:.0f} s"
    )
    other = types != args.defect
    print(f"product map, pooled pixel AUROC: {auroc(masks, product_map):.3f}")
    print(f"product map without {args.defect} images: {auroc(masks[other], product_map[other]):.3f}")
    print(f"local map alone: {auroc(masks, local):.3f}")

    # Probe inputs: the local embedding and its per-image centred copy, standardised.
    x = torch.cat([emb, emb - emb.mean((2, 3), keepdim=True)], 1)
    x = (x - x.mean((0, 2, 3), keepdim=True)) / (x.std((0, 2, 3), keepdim=True) + 1e-6)
    grid = x.shape[-1]
    target_pix = torch.from_numpy(masks.astype(np.float32))[:, None]
    target_pix = F.interpolate(target_pix, size=(grid, grid), mode="area")[:, 0] > 0.5
    is_target = torch.from_numpy(types == args.defect)[:, None, None]
    y = (target_pix & is_target).float()
    keep = ~(target_pix & ~is_target)  # other types' defect pixels are neither class
    folds = torch.arange(len(test)) % FOLDS
    probes = [("linear", _linear_probe)] + ([("conv", _conv_probe)] if args.conv else [])
    for name, train in probes:
        out = torch.empty(len(test), grid, grid)
        for k in range(FOLDS):
            tr, te = folds != k, folds == k
            probe = train(x[tr], y[tr], keep[tr])
            with torch.no_grad():
                out[te] = probe(x[te])[:, 0]
        p = _zscore(_resize(out, EVAL))
        inside = types == args.defect
        print(
            f"{name} probe (trained on the test masks, {FOLDS}-fold by image): "
            f"inside {args.defect} images {auroc(masks[inside], p[inside]):.3f}; "
            f"local + probe {auroc(masks, local + p):.3f}; max(local, 2 x probe) "
            f"{auroc(masks, np.maximum(local, 2 * p)):.3f}"
        )
    print(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
