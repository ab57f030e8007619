"""A localisation head trained on good images with synthetic anomalies, combined with the product's map.

    nice -n 5 .venv/bin/python bench/bench_pixel_synthetic.py              # ../shared/datasets/magnetic-tile
    nice -n 5 .venv/bin/python bench/bench_pixel_synthetic.py --seed 1     # another draw of anomalies + init

Still unsupervised: nothing here reads a defect image before scoring. On the product's
own split (``fit_and_map``: same backbone, fitted statistics and normalisation), every
"fit" good image gets one generic synthetic anomaly (DRAEM/CutPaste-style): a blob
mask (thresholded bicubic noise, 2-40 % of the image) filled with another good image
(maybe flipped, intensity-scaled), a photometric change of the same image (gain, gamma,
contrast, blur, sharpening) or procedural noise / stripes, blended at opacity 0.5-1.
A small dilated convolutional head (1x1 reduce, residual 3x3 convolutions at dilation
1/2/4/8, global-average context; ~177k parameters) learns the blob masks at 32 x 32
on the FROZEN backbone stages the product reads (MobileNetV2 features.3/.6/.13/.16,
resampled to 32 x 32), from the augmented images and the clean ones (all-zero masks).
Its map A (smoothed to 128 x 128) is reported alone and combined with the product's
standardised local map zl and global distance zg:

    C4 = zl + zg * Anorm                    Anorm = A min-max scaled per image
    C5 = zl + max(zg, 0) * Anorm + zA       zA = A z-scored on the held-out images' maxima

Pixel AUROC at 128 x 128, pooled over every test image (baseline: the product's map,
same run); per defect type (that type's pixels against the good images' pixels and its
own clean ones); band-vs-rest inside ``uneven`` images; image AUROC if C4's max were the
score. Deterministic given --seed and --threads (same figures on a rerun). About
2.5 min at 2 threads on an idle 2-core machine, ~6 GB peak memory. The figures move
with the seed (magnetic-tile, seeds 0/1/2: head alone 0.861/0.824/0.817 pooled, C4
0.868/0.854/0.848, C5 0.891/0.872/0.854; product 0.805): compare settings over seeds.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the universal torch idiom

from lineguard.vision.metrics import auroc
from lineguard.vision.scoring import gaussian_kernel
from lineguard.vision.train import load_inputs
from pixel_research import BATCH, EVAL, TestMaps, add_common_args, fit_and_map

GRID = 32  # the head's resolution: every backbone stage is resampled to GRID x GRID
HIDDEN = 64
EPOCHS = 6
SMOOTH_SIGMA = 2.0  # at EVAL resolution
COVERAGE = (0.02, 0.40)
OPACITY = (0.5, 1.0)


# --- synthetic anomalies ----------------------------------------------------------------


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of [C, H, W], reflect-padded."""
    k = gaussian_kernel(sigma)
    r, c = len(k) // 2, x.shape[0]
    y = F.conv2d(
        F.pad(x[None], (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c
    )
    y = F.conv2d(F.pad(y, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
    return y[0]


def _blob_mask(rng: np.random.Generator, size: int) -> torch.Tensor:
    """Thresholded bicubic noise (Perlin-like blobs) over COVERAGE of the image: [size, size] in {0, 1}."""
    coverage = rng.uniform(*COVERAGE)
    while True:
        cells = int(rng.choice([2, 3, 4, 6, 8, 12]))
        noise = torch.from_numpy(rng.standard_normal((1, 1, cells, cells))).float()
        field = F.interpolate(noise, size=(size, size), mode="bicubic", align_corners=False)[0, 0]
        mask = (field > torch.quantile(field.flatten()[::7], 1 - coverage)).float()
        if mask.mean() > 0.01:
            return mask


def _fill(rng: np.random.Generator, images: torch.Tensor, i: int) -> torch.Tensor:
    """What the blob shows: another good image, a photometric change of this one, or a procedural texture."""
    img, size = images[i], images.shape[-1]
    kind = int(rng.integers(3))
    if kind == 0:
        src = images[(i + 1 + int(rng.integers(len(images) - 1))) % len(images)]  # any other image
        if rng.random() < 0.5:
            src = src.flip(-1)
        if rng.random() < 0.5:
            src = src.flip(-2)
        src = src * rng.uniform(0.7, 1.3)
    elif kind == 1:
        op = int(rng.integers(5))
        if op == 0:
            src = img * rng.uniform(0.6, 1.4)
        elif op == 1:
            src = img.clamp(0, 1) ** rng.uniform(0.5, 2.0)
        elif op == 2:
            src = (img - img.mean()) * rng.uniform(0.4, 1.8) + img.mean()
        elif op == 3:
            src = _blur(img, rng.uniform(1, 4))
        else:
            gain = rng.uniform(1, 3)
            src = img + gain * (img - _blur(img, rng.uniform(1, 3)))
    elif rng.random() < 0.5:
        noise = torch.from_numpy(rng.standard_normal((1, size, size))).float()
        sigma = rng.uniform(0, 2)
        if sigma > 0.3:
            noise = _blur(noise, sigma)
            noise = noise / noise.std()
        src = img + rng.uniform(0.03, 0.15) * noise
    else:
        yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
        theta, freq, phase = rng.uniform(0, np.pi), rng.uniform(2, 30) / size, rng.uniform(0, 6.3)
        stripes = torch.sin(2 * np.pi * freq * (xx * np.cos(theta) + yy * np.sin(theta)) + phase)
        src = img + rng.uniform(0.05, 0.3) * stripes[None]
    return src.clamp(0, 1)


def synthesise(rng: np.random.Generator, images: torch.Tensor, i: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One anomalous copy of images[i] and its mask [H, W]."""
    mask = _blob_mask(rng, images.shape[-1])
    src = _fill(rng, images, i)
    alpha = rng.uniform(*OPACITY) * mask
    return images[i] * (1 - alpha) + src * alpha, mask


# --- the head ----------------------------------------------------------------------------


def stage_grid(feats: Sequence[torch.Tensor]) -> torch.Tensor:
    """Every backbone stage resampled to GRID x GRID and stacked: [N, sum C, GRID, GRID]."""
    out = []
    for f in feats:
        if f.shape[-1] > GRID:
            f = F.avg_pool2d(f, f.shape[-1] // GRID)
        elif f.shape[-1] < GRID:
            f = F.interpolate(f, size=(GRID, GRID), mode="bilinear", align_corners=False)
        out.append(f)
    return torch.cat(out, 1)


class DilatedHead(torch.nn.Module):
    """1x1 reduce, residual dilated 3x3 stack (receptive field ~ the whole grid), global-average context."""

    def __init__(self, channels: int, hidden: int = HIDDEN) -> None:
        super().__init__()
        self.reduce = torch.nn.Sequential(
            torch.nn.Conv2d(channels, hidden, 1), torch.nn.BatchNorm2d(hidden), torch.nn.ReLU()
        )
        self.body = torch.nn.ModuleList(
            torch.nn.Sequential(
                torch.nn.Conv2d(hidden, hidden, 3, padding=d, dilation=d, padding_mode="reflect"),
                torch.nn.BatchNorm2d(hidden),
                torch.nn.ReLU(),
            )
            for d in (1, 2, 4, 8)
        )
        self.out = torch.nn.Sequential(
            torch.nn.Conv2d(2 * hidden, hidden, 1), torch.nn.ReLU(), torch.nn.Conv2d(hidden, 1, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.reduce(x)
        for block in self.body:
            x = x + block(x)
        return self.out(torch.cat([x, x.mean((2, 3), keepdim=True).expand_as(x)], 1))[:, 0]


def train_head(x: torch.Tensor, y: torch.Tensor, seed: int) -> DilatedHead:
    """Adam on per-position BCE against the soft (area-pooled) masks; random horizontal flips."""
    torch.manual_seed(seed)
    flips = np.random.default_rng([seed, 1])
    head = DilatedHead(x.shape[1])
    opt = torch.optim.Adam(head.parameters(), 1e-3, weight_decay=1e-4)
    for _ in range(EPOCHS):
        for batch in torch.randperm(len(x)).split(BATCH):
            xb, yb = x[batch], y[batch]
            if flips.random() < 0.5:
                xb, yb = xb.flip(-1), yb.flip(-1)
            loss = F.binary_cross_entropy_with_logits(head(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return head.eval()


# --- evaluation --------------------------------------------------------------------------


def smooth(maps: torch.Tensor) -> np.ndarray:
    """GRID maps -> EVAL, Gaussian-smoothed (reflect-padded) like the product's local map."""
    return _blur(
        F.interpolate(maps[:, None], size=(EVAL, EVAL), mode="bilinear", align_corners=False)[:, 0],
        SMOOTH_SIGMA,
    ).numpy()


def _per_image_max(maps: np.ndarray) -> np.ndarray:
    return maps.reshape(len(maps), -1).max(1)


def combinations(maps: TestMaps, a_test: np.ndarray, a_hold: np.ndarray) -> dict[str, np.ndarray]:
    hold_max = _per_image_max(a_hold)
    z_a = (a_test - hold_max.mean()) / hold_max.std()
    flat = a_test.reshape(len(a_test), -1)
    a_norm = (a_test - flat.min(1)[:, None, None]) / (np.ptp(flat, 1)[:, None, None] + 1e-9)
    zl, zg = maps.z_local, maps.z_global[:, None, None]
    return {
        "product": maps.product,
        "head alone": a_test,
        "C4 zl+zg*Anorm": zl + zg * a_norm,
        "C5 zl+max(zg,0)*Anorm+zA": zl + np.maximum(zg, 0) * a_norm + z_a,
    }


def report(maps: TestMaps, rows: dict[str, np.ndarray]) -> None:
    types, masks = maps.types, maps.masks
    defects = sorted({str(t) for t in types if t != "good"})
    uneven = types == "uneven"
    print(f"{'pixel AUROC':26s} pooled  " + " ".join(f"{t:>8s}" for t in defects) + "  in-uneven")
    base = auroc(masks, maps.product)
    for name, m in rows.items():
        pooled = auroc(masks, m)
        per_type = [
            auroc(masks[(types == t) | (types == "good")], m[(types == t) | (types == "good")])
            for t in defects
        ]
        print(
            f"{name:26s} {pooled:.3f}  "
            + " ".join(f"{v:8.3f}" for v in per_type)
            + (f"  {auroc(masks[uneven], m[uneven]):9.3f}" if uneven.any() else "")
            + f"   ({pooled - base:+.3f} vs product)"
        )
    c4 = rows["C4 zl+zg*Anorm"]
    print(
        f"image AUROC: product score {auroc(maps.labels, maps.scores):.3f}, "
        f"max of C4 {auroc(maps.labels, _per_image_max(c4)):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_common_args(parser)
    parser.add_argument(
        "--seed", type=int, default=0, help="anomaly draw, head initialisation and batch order"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    maps = fit_and_map(args.data, args.threads, keep=stage_grid)
    assert maps.kept is not None  # asked for with keep=
    fitted, size = maps.fitted, maps.fitted.config.image_size
    print(
        f"{len(maps.test)} test images, {len(fitted.fit_paths)} fit / {len(fitted.holdout_paths)} held-out "
        f"good images; product fitted and test maps in {maps.seconds:.0f} s"
    )

    seconds = {"clean features": 0.0, "augment": 0.0, "augmented features": 0.0}

    def grid_features(images: torch.Tensor, stage: str) -> torch.Tensor:
        t0 = time.perf_counter()
        with torch.no_grad():
            out = torch.cat([stage_grid(fitted.detector.backbone(b)) for b in images.split(BATCH)])
        seconds[stage] += time.perf_counter() - t0
        return out

    fit_images = torch.from_numpy(load_inputs(fitted.fit_paths, size))
    clean = grid_features(fit_images, "clean features")
    hold = grid_features(torch.from_numpy(load_inputs(fitted.holdout_paths, size)), "clean features")
    rng = np.random.default_rng(args.seed)
    augmented, blob_masks = [], []
    for s in range(0, len(fit_images), BATCH):
        t0 = time.perf_counter()
        pairs = [synthesise(rng, fit_images, i) for i in range(s, min(s + BATCH, len(fit_images)))]
        seconds["augment"] += time.perf_counter() - t0
        augmented.append(grid_features(torch.stack([p[0] for p in pairs]), "augmented features"))
        blob_masks.append(torch.stack([p[1] for p in pairs]))
    target = F.avg_pool2d(torch.cat(blob_masks)[:, None], size // GRID)[:, 0]

    mean = clean.mean((0, 2, 3), keepdim=True)
    std = clean.std((0, 2, 3), keepdim=True) + 1e-4
    x = torch.cat([*augmented, clean]).sub_(mean).div_(std)  # in place: 1.5 GB on magnetic-tile
    del augmented
    y = torch.cat([target, torch.zeros(len(clean), GRID, GRID)])
    t0 = time.perf_counter()
    head = train_head(x, y, args.seed)
    seconds["head training"] = time.perf_counter() - t0
    with torch.no_grad():
        t0 = time.perf_counter()
        a_test = torch.cat([head((b - mean) / std) for b in maps.kept.split(64)])
        infer_ms = 1000 * (time.perf_counter() - t0) / len(a_test)
        a_hold = torch.cat([head((b - mean) / std) for b in hold.split(64)])

    report(maps, combinations(maps, smooth(a_test), smooth(a_hold)))
    params = sum(p.numel() for p in head.parameters())
    print(
        "extra seconds: "
        + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items())
        + f" (clean features: the fit + held-out images again, which fitting had computed once); "
        f"head {params} parameters, {infer_ms:.1f} ms/image on the stage grid, {args.threads} threads"
    )
    print(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
