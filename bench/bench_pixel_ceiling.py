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
import time

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the universal torch idiom

from lineguard.vision.metrics import auroc
from pixel_research import EVAL, add_common_args, fit_and_map, resize, zscore

FOLDS = 5


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
    add_common_args(parser)
    parser.add_argument("--defect", default="uneven", help="the defect type whose masks the probes learn")
    parser.add_argument("--conv", action="store_true", help="also train the convolutional probe (slower)")
    args = parser.parse_args()
    started = time.perf_counter()
    maps = fit_and_map(args.data, args.threads)
    test, types, masks = maps.test, maps.types, maps.masks
    emb, local, product_map = maps.emb, maps.z_local, maps.product

    print(
        f"{len(test)} test images, {int(masks.sum())} defect pixels ({args.defect}: "
        f"{int(masks[types == args.defect].sum())}), features in {time.perf_counter() - started:.0f} s"
    )
    other = types != args.defect
    print(f"product map, pooled pixel AUROC: {auroc(masks, product_map):.3f}")
    print(f"product map without {args.defect} images: {auroc(masks[other], product_map[other]):.3f}")
    print(f"local map alone: {auroc(masks, local):.3f}")
    # A perfect gate: the global lift only on the defect type's own images (it reads the
    # test labels). If even this misses a target, gating the lift cannot reach it.
    gated = local + (maps.z_global * ~other)[:, None, None]
    print(f"oracle gate (global lift only on {args.defect} images): {auroc(masks, gated):.3f}")

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
        p = zscore(resize(out, EVAL))
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
