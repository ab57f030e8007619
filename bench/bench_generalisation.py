"""Generalisation suite (issue #24, item 1): does the engine hold beyond magnetic tile?

    .venv/bin/python bench/bench_generalisation.py                 # ~10 min cold, ~3 min cached
    .venv/bin/python bench/bench_generalisation.py --splits 3 --configs default,padim-recipe

What it measures, on every set of :mod:`generalisation_data` (real sets under
``../shared/datasets``, the synthetic line under three seeds and conditions):

* **repeated splits** — the fixed split, then ``--splits`` random splits of the pooled good
  images (same train / test sizes as the fixed split); every split holds out 15 % of its
  training goods to standardise the branches and set the threshold, as ``train_package``
  does. Per split: image AUROC, recall at 1 % false rejects, and the false-reject rate and
  recall at the calibrated threshold (``calibrate_threshold``, 1 % target).
* **leave one defect type out** — for each defect type, the head configuration that scores
  best on the *other* types of the suite is chosen, and its AUROC on the left-out type
  compared with the shipped default's: whether choosing on known defects carries over to an
  unseen one.
* **nuisances** — on each set's fixed split, the test goods again under the nuisances of
  :data:`NUISANCES`; their false-reject rate at the calibrated threshold against the same
  goods unchanged (paired bootstrap 95 % interval of the difference). Target: within 1 point.

The engine's own fitting code is used (``localfit.fit_local``, ``LowRankGaussian``,
``calibrate_threshold``, ``augment.nuisance_copy``); image scores are the map's peak exactly
as the graph computes it (``score = max(max(z_local map), z_global)``, or with ``fusion sum``
the first round's ``max(z_local map) + z_global``). Configurations (``--configs``) vary one
default at a time: fusion, nuisance copies of the fit goods (all of the Gaussians, or only
the local or the global one; one or several per good), the threshold's small-sample rule,
smoothing, global rank, local layers, local shrinkage,
storage of the local statistics (float16 factors as shipped, or exact float32: the
package-size question, item 3), and the anchor
**padim-recipe** — anomalib's PaDiM recipe on the same features (per-position Gaussian of
``features.6 + features.13``, covariance + 0.01 I, σ = 4 smoothing, map max), a
re-implementation: anomalib is not a dependency.

**Localisation** (fixed split, configs of ``--pixel-configs``): AUPRO (``metrics.aupro``:
per-region overlap up to 30 % pixel FPR) and pooled pixel AUROC of the fused map against
each set's ground-truth masks, over the test goods and defects.

Features are cached (``--cache``); the load average is printed with every timing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402, N812

from generalisation_data import NUISANCES, Features, ImageSet, extract, real_sets, synthetic_sets  # noqa: E402
from lineguard.vision.augment import nuisance_copy  # noqa: E402
from lineguard.vision.calibration import calibrate_threshold  # noqa: E402
from lineguard.vision.evaluate import load_mask  # noqa: E402
from lineguard.vision.localfit import fit_local  # noqa: E402
from lineguard.vision.metrics import aupro, auroc, recall_at_frr  # noqa: E402
from lineguard.vision.scoring import (  # noqa: E402
    LowRankGaussian,
    _whitened_distance,
    gaussian_kernel,
    pack_precision,
    unpack_index,
)
from lineguard.vision.train import split_holdout  # noqa: E402
from patchcore_anchor import PatchCore  # noqa: E402

SHARED = ROOT.parent / "shared" / "datasets"
LAYERS = {"s8": 32, "s16": 96, "s32": 160}


@dataclass(frozen=True, slots=True)
class HeadConfig:
    name: str
    local_layers: tuple[str, ...] = ("s8", "s16")
    shrink: str = "ledoit-wolf"  # or "fixed-0.01" (PaDiM's covariance + 0.01 I)
    # the local fit's settings (``localfit.fit_local``; TrainConfig.local_neighbourhood /
    # local_shrink_floor): each position fitted on its (2r+1)² neighbours' embeddings; the
    # least Ledoit–Wolf shrinkage as k * channels / images
    neighbourhood: int = 0
    shrink_floor: float = 0.0
    # what a neighbourhood fit pools (localfit.POOLS): the raw embeddings, or only each
    # position's deviations from its own mean (the covariance)
    pool: str = "samples"
    # the local branch's image score: the smoothed map's peak (1, as the graph), or the mean of
    # its top N pixels (an area rather than one hot spot; the score is then not the map's peak)
    top: int = 1
    # how the held-out goods standardise each branch before fusion: mean / sd (shipped), or
    # median / (1.4826 MAD), which a few unusual held-out goods move less
    norm: str = "std"
    storage: str = "float16"  # packed float16 Cholesky factors (shipped), or "float32" (exact)
    sigma: float = 4.0
    rank: int = 256
    # max (shipped: the maximum's score, the lifted map), max flat, max score sum map,
    # sum, local, global, patchcore
    fusion: str = "max"
    copies: str = "none"  # nuisance copies of the fit goods for: none, both Gaussians, local, global
    n_copies: int = 1  # copies per fit good (TrainConfig.nuisance_copies), each its own seeded draw
    # which parts of the global descriptor (``desc_view``): all, no-std, no-s4, no-s4-std, deep
    global_parts: str = "all"
    # local embedding channels kept (seeded random subset, PaDiM's reduction); 0 keeps all:
    # the per-position matrices are most of the graph's memory traffic (latency, item 4)
    local_dims: int = 0
    # the global branch's input: "" = the local branch's pass; "SIGMA" or "SIGMA/STEP" = the
    # image low-passed (and subsampled) by ``lowpass.LowPass`` (TrainConfig.global_lowpass / _step);
    # "...@N": the map of the trunk's first N modules low-passed instead (TrainConfig.global_shared)
    global_input: str = ""
    # the threshold rule (``calibration.calibrate_threshold``'s ``small_sample``): with fewer
    # held-out goods than 1 / target FRR, "max" takes their maximum (shipped), "tail" a
    # fitted Gaussian tail's quantile (#24 seventh session)
    threshold: str = "max"

    @property
    def lowpass(self) -> tuple[float, int, int] | None:
        if not self.global_input:
            return None
        low, _, shared = self.global_input.partition("@")
        sigma, _, step = low.partition("/")
        return float(sigma), int(step or 1), int(shared or 0)

    @property
    def copies_local(self) -> bool:
        return self.copies in ("both", "local")

    @property
    def copies_global(self) -> bool:
        return self.copies in ("both", "global")


# The shipped defaults (TrainConfig): the global branch reads the image low-passed by sigma 2.5;
# the local fit's Ledoit–Wolf shrinkage is at least 0.05 * channels / images (#24 sixth session).
DEFAULT = HeadConfig("default", global_input="2.5", shrink_floor=0.05)
CONFIGS: dict[str, HeadConfig] = {
    c.name: c
    for c in (
        DEFAULT,
        replace(DEFAULT, name="fusion sum", fusion="sum"),
        replace(DEFAULT, name="fusion max flat", fusion="max flat"),
        replace(DEFAULT, name="max score sum map", fusion="max score sum map"),
        replace(DEFAULT, name="nuisance copies", copies="both", global_input=""),
        replace(DEFAULT, name="copies local only", copies="local", global_input=""),
        replace(DEFAULT, name="copies global only", copies="global", global_input=""),
        # #24 seventh session (nuisance false rejects): copies for the local fit beside the
        # shipped low-passed global branch; the threshold's small-sample rule
        replace(DEFAULT, name="copies local", copies="local"),
        # TrainConfig(nuisance_copies=1) as shipped today: both Gaussians, the global one on
        # the copies' low-passed pass
        replace(DEFAULT, name="copies both", copies="both"),
        replace(DEFAULT, name="copies both threshold tail", copies="both", threshold="tail"),
        replace(DEFAULT, name="copies both x4 threshold tail", copies="both", n_copies=4, threshold="tail"),
        replace(DEFAULT, name="threshold tail", threshold="tail"),
        replace(DEFAULT, name="copies local threshold tail", copies="local", threshold="tail"),
        replace(DEFAULT, name="local only", fusion="local"),
        replace(DEFAULT, name="global only", fusion="global"),
        replace(DEFAULT, name="sigma 2", sigma=2.0),
        replace(DEFAULT, name="sigma 8", sigma=8.0),
        replace(DEFAULT, name="rank 64", rank=64),
        replace(DEFAULT, name="local +features.16", local_layers=("s8", "s16", "s32")),
        replace(DEFAULT, name="shrink fixed 0.01", shrink="fixed-0.01"),
        replace(DEFAULT, name="shrink ledoit-wolf", shrink_floor=0.0),  # the default until #24's 6th session
        replace(DEFAULT, name="shrink floor 0.1", shrink_floor=0.1),
        replace(DEFAULT, name="shrink floor 0.2", shrink_floor=0.2),
        replace(DEFAULT, name="neighbourhood 1", neighbourhood=1, shrink_floor=0.0),
        replace(DEFAULT, name="neighbourhood 1 floor 0.1", neighbourhood=1, shrink_floor=0.1),
        replace(DEFAULT, name="neighbourhood 2", neighbourhood=2, shrink_floor=0.0),
        # #24 seventh session: the local branch's levers around the sixth session's candidate
        replace(DEFAULT, name="neighbourhood 1 floor 0.05", neighbourhood=1),
        replace(DEFAULT, name="neighbourhood 1 cov", neighbourhood=1, pool="covariance"),
        replace(
            DEFAULT,
            name="neighbourhood 1 cov floor 0.1",
            neighbourhood=1,
            pool="covariance",
            shrink_floor=0.1,
        ),
        replace(DEFAULT, name="local top 64", top=64),
        replace(DEFAULT, name="local top 655", top=655),
        replace(DEFAULT, name="sigma 6", sigma=6.0),
        replace(DEFAULT, name="norm robust", norm="robust"),
        replace(DEFAULT, name="local s8 + s32", local_layers=("s8", "s32")),
        replace(DEFAULT, name="float32 local stats", storage="float32"),
        replace(
            DEFAULT,
            name="padim-recipe",
            shrink="fixed-0.01",
            fusion="local",
            storage="float32",
            global_input="",
        ),
        replace(DEFAULT, name="patchcore", fusion="patchcore", global_input=""),
        replace(DEFAULT, name="global no std", global_parts="no-std"),
        replace(DEFAULT, name="global no stride 4", global_parts="no-s4"),
        replace(DEFAULT, name="global no s4 no std", global_parts="no-s4-std"),
        replace(DEFAULT, name="global deep only", global_parts="deep"),
        replace(DEFAULT, name="global no stride 32", global_parts="no-s32"),
        replace(DEFAULT, name="local 64 dims", local_dims=64),
        replace(DEFAULT, name="local 96 dims", local_dims=96),
        replace(DEFAULT, name="global lowpass 1.5", global_input="1.5"),
        replace(
            DEFAULT, name="global original input", global_input=""
        ),  # the default until #24's 5th session
        replace(DEFAULT, name="global lowpass 1.5 half", global_input="1.5/2"),
        replace(DEFAULT, name="global lowpass 2.5 half", global_input="2.5/2"),
        replace(DEFAULT, name="global only original input", global_input="", fusion="global"),
        replace(DEFAULT, name="global only lowpass 1.5 half", global_input="1.5/2", fusion="global"),
        # the global pass shares the trunk's first N modules (MobileNetV2 features.0..N-1) and
        # low-passes their map (#24 latency): "shared 3" = features.0-2 run once (stride 4)
        replace(DEFAULT, name="global shared 2", global_input="2.5@2"),
        replace(DEFAULT, name="global shared 3", global_input="2.5@3"),
        replace(DEFAULT, name="global shared 2 half", global_input="2.5/2@2"),
        replace(DEFAULT, name="global shared 3 half", global_input="2.5/2@3"),
    )
}


def desc_view(desc: np.ndarray, parts: str, deeper: tuple[int, ...] = (32, 96, 160)) -> np.ndarray:
    """Columns of the global descriptor: per stage (strides 4, 8, 16, 32) 22 values a channel —
    the 2x2 cell means, the 4x4 cell means, the mean, the std (``scoring.global_descriptor``)."""
    if parts == "all":
        return desc
    per = [desc.shape[1] // 22 - sum(deeper), *deeper]
    cols, start = [], 0
    for stage, c in enumerate(per):
        block = np.arange(start, start + 22 * c)
        start += 22 * c
        if stage == 0 and parts in ("no-s4", "no-s4-std", "deep"):
            continue
        if stage == 1 and parts == "deep":
            continue
        if stage == 3 and parts == "no-s32":  # the global pass could then stop at features.13
            continue
        cols.append(block[: 21 * c] if parts in ("no-std", "no-s4-std") else block)
    return desc[:, np.concatenate(cols)]


def embedding(f: Features, layers: tuple[str, ...], dims: int = 0) -> np.ndarray:
    maps = [torch.from_numpy({"s8": f.s8, "s16": f.s16, "s32": f.s32}[k]) for k in layers]
    size = maps[0].shape[-2:]
    up = [
        m if m.shape[-2:] == size else F.interpolate(m, size=size, mode="bilinear", align_corners=False)
        for m in maps
    ]
    out = torch.cat(up, 1).numpy()
    if dims:
        keep = np.sort(np.random.default_rng(24).permutation(out.shape[1])[:dims])
        out = np.ascontiguousarray(out[:, keep])
    return out


def fit_local_fixed(embs: np.ndarray, eps: float = 0.01, chunk: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """PaDiM's per-position Gaussian: unbiased covariance + eps * I (anomalib's recipe)."""
    n, c, h, w = embs.shape
    flat = embs.reshape(n, c, h * w)
    means, precs = [], []
    for a in range(0, h * w, chunk):
        x = flat[:, :, a : a + chunk].transpose(2, 0, 1).astype(np.float64)  # [p, n, c]
        mu = x.mean(1, keepdims=True)
        xc = x - mu
        cov = np.swapaxes(xc, 1, 2) @ xc / (n - 1) + eps * np.eye(c)
        means.append(mu[:, 0])
        precs.append(np.linalg.inv(cov))
    return np.concatenate(means), np.concatenate(precs)


def whitening(precision: np.ndarray, storage: str) -> np.ndarray:
    """The factors L (precision = L Lᵀ) the head multiplies by: exact, or as the package stores them."""
    if storage == "float32":
        return np.linalg.cholesky(precision.astype(np.float64)).astype(np.float32)
    packed, scale = pack_precision(precision)  # the shipped packed float16 form
    p, c = precision.shape[0], precision.shape[-1]
    padded = np.concatenate([packed.astype(np.float32), np.zeros((p, 1), np.float32)], 1)
    out: np.ndarray = padded[:, unpack_index(c)].reshape(p, c, c) * scale[:, None, None]
    return out


@dataclass(slots=True)
class LocalModel:
    mean: torch.Tensor
    factor: torch.Tensor

    def dist(self, emb: np.ndarray, batch: int = 32) -> torch.Tensor:
        out = [
            _whitened_distance(torch.from_numpy(emb[i : i + batch]), self.mean, self.factor)
            for i in range(0, len(emb), batch)
        ]
        return torch.cat(out)


def fit_precision(embs: np.ndarray, cfg: HeadConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per-position (mean, precision) with the engine's Ledoit–Wolf fit or PaDiM's fixed one."""
    if cfg.shrink == "fixed-0.01":
        return fit_local_fixed(embs)
    stats = fit_local(embs, neighbourhood=cfg.neighbourhood, shrink_floor=cfg.shrink_floor, pool=cfg.pool)
    return stats.mean, stats.precision


def smoothed(dist: torch.Tensor, sigma: float, size: int = 256) -> torch.Tensor:
    """The upsampled, smoothed local map [N, size, size], as the graph computes it."""
    k = gaussian_kernel(sigma)
    kx, ky = k.view(1, 1, 1, -1), k.view(1, 1, -1, 1)
    r = int(k.shape[0]) // 2
    up = F.interpolate(dist[:, None], size=(size, size), mode="bilinear", align_corners=False)
    up = F.conv2d(F.pad(up, (r, r, 0, 0), mode="reflect"), kx)
    return F.conv2d(F.pad(up, (0, 0, r, r), mode="reflect"), ky)[:, 0]


def peak(dist: torch.Tensor, sigma: float, size: int = 256, batch: int = 64, top: int = 1) -> np.ndarray:
    """Max of the upsampled, smoothed map: the graph's local branch before standardisation
    (``top`` > 1: the mean of the map's ``top`` highest pixels instead)."""
    out = [
        smoothed(dist[i : i + batch], sigma, size).flatten(1).topk(top, 1).values.mean(1)
        for i in range(0, len(dist), batch)
    ]
    return torch.cat(out).numpy().astype(np.float64)


def pixel_metrics(
    cfg: HeadConfig,
    dist: dict[str, torch.Tensor],
    peaks: dict[str, np.ndarray],
    glob: dict[str, np.ndarray],
    masks: list[Path | None],
    defect_types: list[str],
    size: int = 256,
) -> dict[str, Any]:
    """AUPRO and pooled pixel AUROC of the fused map (fixed split: test goods + defects)."""
    lm, ls = float(peaks["hold"].mean()), max(float(peaks["hold"].std()), 1e-6)
    maps, truth = [], []
    for g in ("test", "bad"):
        zg = _z(glob[g], glob["hold"])
        for i in range(0, len(dist[g]), 32):
            zl = (smoothed(dist[g][i : i + 32], cfg.sigma, size).numpy() - lm) / ls
            maps.append(np.asarray(fused_map(cfg.fusion, zl, zg[i : i + 32]), np.float32))
        truth += (
            [np.zeros((size, size), bool)] * len(dist[g])
            if g == "test"
            else [load_mask(m, size, size) for m in masks]
        )
    amap, gt = np.concatenate(maps), np.stack(truth)
    n_good = len(dist["test"])
    types = np.asarray(defect_types)
    per_type = {}
    for t in sorted(set(defect_types)):  # as evaluate_package: the test goods + this type's images
        sel = np.r_[np.arange(n_good), n_good + np.flatnonzero(types == t)]
        per_type[t] = auroc(gt[sel, ::2, ::2].ravel(), amap[sel, ::2, ::2].ravel())
    return {
        "aupro": aupro(gt, amap),
        "pixel_auroc": auroc(gt[:, ::4, ::4].ravel(), amap[:, ::4, ::4].ravel()),
        "pixel_auroc_per_type": per_type,
        "pixel_auroc_type_mean": float(np.mean(list(per_type.values()))),
    }


def fused_map(fusion: str, zl: np.ndarray, zg: np.ndarray) -> np.ndarray:
    """The graph's map from standardised local maps [N, H, W] and global z-scores [N].

    ``max`` lifts the local map by how far the global z-score rises above its peak, so
    its peak is the image score max(peak z_local, z_global) and every pixel keeps its
    local rank; ``max flat`` is the third session's ``max(z_local, z_global)`` per pixel
    (the same score, a map flat below the global floor); ``max score sum map`` keeps
    the sum's map beside the maximum's score (the score is then not the map's peak).
    """
    floor = zg[:, None, None].astype(np.float32)
    peak_l = zl.reshape(len(zl), -1).max(1)[:, None, None]
    if fusion == "max":
        return zl + np.maximum(0.0, floor - peak_l)
    if fusion == "max flat":
        return np.maximum(zl, floor)
    if fusion in ("sum", "max score sum map"):
        return zl + floor
    if fusion == "local":
        return zl
    return np.broadcast_to(floor, zl.shape)


def _z(values: np.ndarray, ref: np.ndarray, norm: str = "std") -> np.ndarray:
    if norm == "robust":
        med = float(np.median(ref))
        mad = 1.4826 * float(np.median(np.abs(ref - med)))
        return (values - med) / max(mad, 1e-3 * abs(med), 1e-6)
    std = max(float(ref.std()), 1e-3 * abs(float(ref.mean())), 1e-6)
    return (values - float(ref.mean())) / std


def fuse(cfg: HeadConfig, local: dict[str, np.ndarray], glob: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Image scores per group (``hold`` standardises), as the graph computes them."""
    out = {}
    for g in local:
        zl, zg = _z(local[g], local["hold"], cfg.norm), _z(glob[g], glob["hold"], cfg.norm)
        image = {"sum": zl + zg, "local": zl, "global": zg}
        out[g] = image.get(cfg.fusion, np.maximum(zl, zg))  # every "max ..." rule scores max(zl, zg)
    return out


@dataclass(slots=True)
class Split:
    name: str
    fit: np.ndarray  # indices into the set's goods
    hold: np.ndarray
    test: np.ndarray


def splits(s: ImageSet, n_random: int) -> list[Split]:
    n, n_train = len(s.goods), s.n_fixed_train
    fit_p, hold_p = split_holdout(s.root, s.goods[:n_train], 0.15)
    index = {p: i for i, p in enumerate(s.goods)}
    out = [
        Split(
            "fixed",
            np.array([index[p] for p in fit_p]),
            np.array([index[p] for p in hold_p]),
            np.arange(n_train, n),
        )
    ]
    n_hold = len(hold_p)
    for r in range(n_random):
        perm = np.random.default_rng([24, r]).permutation(n)
        train = perm[:n_train]
        out.append(
            Split(f"random {r}", np.sort(train[n_hold:]), np.sort(train[:n_hold]), np.sort(perm[n_train:]))
        )
    return out


def metrics(
    scores: dict[str, np.ndarray],
    defect_types: list[str],
    nuisance: dict[str, np.ndarray] | None,
    subset: np.ndarray,
    threshold: str = "max",
    branches: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, Any]:
    """Per split: AUROC, recall at 1 % FRR, FRR / recall at the calibrated threshold, per type;
    on the fixed split each nuisance's FRR against the same goods unchanged, and (with
    ``branches``: each group's standardised local and global scores) why: the median score
    of the changed and unchanged goods against the threshold, and which branch flags."""
    good, bad = scores["test"], scores["bad"]
    labels = np.r_[np.zeros(len(good)), np.ones(len(bad))]
    allscores = np.r_[good, bad]
    th = calibrate_threshold(scores["hold"], target_frr=0.01, small_sample=threshold).value
    types = np.asarray(defect_types)
    out: dict[str, Any] = {
        "auroc": auroc(labels, allscores),
        "recall_at_1pct_frr": recall_at_frr(labels, allscores, 0.01),
        "frr_at_threshold": float((good >= th).mean()),
        "recall_at_threshold": float((bad >= th).mean()),
        "per_type": {
            t: auroc(
                np.r_[np.zeros(len(good)), np.ones(int((types == t).sum()))], np.r_[good, bad[types == t]]
            )
            for t in sorted(set(defect_types))
        },
    }
    if nuisance is not None:
        base = good[subset] >= th  # the same goods, unchanged
        rng = np.random.default_rng(0)
        boots = rng.integers(0, len(base), (2000, len(base)))
        out["nuisance"] = {}
        for name, sc in nuisance.items():
            flagged = sc >= th
            diff = flagged.astype(float) - base.astype(float)
            lo, hi = np.percentile(diff[boots].mean(1), [2.5, 97.5])
            out["nuisance"][name] = {
                "frr": float(flagged.mean()),
                "frr_unvaried": float(base.mean()),
                "diff": float(diff.mean()),
                "diff_ci95": [float(lo), float(hi)],
                "threshold": float(th),
                "median": float(np.median(sc)),
                "median_unvaried": float(np.median(good[subset])),
            }
            if branches is not None and f"n:{name}" in branches:
                zl, zg = branches[f"n:{name}"]
                zl0, zg0 = branches["test"]
                out["nuisance"][name] |= {
                    "median_local": float(np.median(zl)),
                    "median_local_unvaried": float(np.median(zl0[subset])),
                    "median_global": float(np.median(zg)),
                    "median_global_unvaried": float(np.median(zg0[subset])),
                    # of the flagged changed goods, the share whose local z-score is the larger
                    "flagged_by_local": float((zl[flagged] >= zg[flagged]).mean()) if flagged.any() else 0.0,
                }
    return out


def run_set(
    s: ImageSet,
    configs: list[HeadConfig],
    n_random: int,
    cache: Path,
    threads: int,
    log: Callable[[str], None],
    nuisance_goods: int,
    pixel_configs: set[str],
) -> dict[str, Any]:
    tag = f"{s.name}"
    goods = extract(s.goods, cache=cache, tag=f"{tag} goods", transform=s.condition, threads=threads, log=log)
    bad = extract(
        s.defects, cache=cache, tag=f"{tag} defects", transform=s.condition, threads=threads, log=log
    )
    fixed_test = s.fixed_test_goods

    def chain(t: Callable[[np.ndarray, int], np.ndarray]) -> Callable[[np.ndarray, int], np.ndarray]:
        if s.condition is None:
            return t
        cond = s.condition
        return lambda im, i: t(cond(im, i), i)

    # Nuisances on an evenly spread subset of the fixed split's test goods (features cost
    # most of the suite's time on a shared 2-core machine); compared pairwise on that subset.
    step = max(1, -(-len(fixed_test) // nuisance_goods))
    subset = np.arange(0, len(fixed_test), step)
    nuis = {
        name: extract(
            [fixed_test[i] for i in subset],
            cache=cache,
            tag=f"{tag} {name}",
            transform=chain(t),
            threads=threads,
            log=log,
        )
        for name, t in NUISANCES.items()
    }
    # Nuisance copies of every good (see vision.augment): copy k of image i drawn with seed
    # i (k = 0, as before) or k * 1_000_003 + i, as training seeds its copies.
    n_copies = max((c.n_copies for c in configs if c.copies != "none"), default=0)

    def copy_of(k: int) -> Callable[[np.ndarray, int], np.ndarray]:
        return chain(lambda im, i: nuisance_copy(im, k * 1_000_003 + i))

    def copy_tag(k: int) -> str:
        return f"{tag} goods nuisance copies" + (f" {k + 1}" if k else "")

    copies = [
        extract(s.goods, cache=cache, tag=copy_tag(k), transform=copy_of(k), threads=threads, log=log)
        for k in range(n_copies)
    ]
    # The global branch's other inputs (``HeadConfig.global_input``): the same images (and
    # nuisances, applied before the low-pass as in the graph), descriptors only.
    inputs: dict[str, tuple[Features, Features, dict[str, Features]]] = {"": (goods, bad, nuis)}
    low_copies: dict[str, list[Features]] = {}
    for cfg in configs:
        lp = cfg.lowpass
        if lp is not None and cfg.copies_global and cfg.global_input not in low_copies:
            # the copies through the same low-pass, as training's probe computes them
            low_copies[cfg.global_input] = [
                extract(
                    s.goods,
                    cache=cache,
                    tag=copy_tag(k),
                    transform=copy_of(k),
                    threads=threads,
                    log=log,
                    lowpass=lp,
                )
                for k in range(n_copies)
            ]
        if lp is None or cfg.global_input in inputs:
            continue

        def ext(
            paths: list[Path], what: str, t: Callable[[np.ndarray, int], np.ndarray] | None, lp: Any = lp
        ) -> Features:
            return extract(
                paths, cache=cache, tag=f"{tag} {what}", transform=t, threads=threads, log=log, lowpass=lp
            )

        inputs[cfg.global_input] = (
            ext(s.goods, "goods", s.condition),
            ext(s.defects, "defects", s.condition),
            {n: ext([fixed_test[i] for i in subset], n, chain(t)) for n, t in NUISANCES.items()},
        )

    result: dict[str, Any] = {"kind": s.kind, "goods": len(s.goods), "defects": len(s.defects), "splits": {}}
    for sp in splits(s, n_random):
        t0 = time.perf_counter()
        groups = {"hold": goods.take(sp.hold), "test": goods.take(sp.test), "bad": bad}
        if sp.name == "fixed":
            groups |= {f"n:{k}": v for k, v in nuis.items()}
        fit_feats = goods.take(sp.fit)
        copy_feats = [c.take(sp.fit) for c in copies]
        fits: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = {}
        local_cache: dict[tuple[Any, ...], dict[str, torch.Tensor]] = {}
        glob_cache: dict[tuple[Any, ...], dict[str, np.ndarray]] = {}
        peaks: dict[tuple[Any, ...], dict[str, np.ndarray]] = {}
        per_cfg = {}
        for cfg in configs:
            if cfg.fusion == "patchcore":  # the second anchor: its own features, bank and scores
                c0 = time.process_time()
                pc = PatchCore(fit_feats.s8, fit_feats.s16)
                scores = {g: pc.score(f.s8, f.s16)[0] for g, f in groups.items()}
                nuisance = {k[2:]: v for k, v in scores.items() if k.startswith("n:")} or None
                per_cfg[cfg.name] = metrics(scores, s.defect_types, nuisance, subset)
                per_cfg[cfg.name]["cpu_s"] = time.process_time() - c0
                per_cfg[cfg.name]["bank"] = len(pc.bank)
                continue
            fit_key = (
                cfg.local_layers,
                cfg.shrink,
                cfg.copies_local,
                cfg.local_dims,
                cfg.neighbourhood,
                cfg.shrink_floor,
                cfg.pool,
                cfg.n_copies,
            )
            if fit_key not in fits:
                emb = embedding(fit_feats, cfg.local_layers, cfg.local_dims)
                if cfg.copies_local:
                    emb = np.concatenate(
                        [
                            emb,
                            *(
                                embedding(c, cfg.local_layers, cfg.local_dims)
                                for c in copy_feats[: cfg.n_copies]
                            ),
                        ]
                    )
                fits[fit_key] = fit_precision(emb, cfg)
            key = (*fit_key, cfg.storage)
            if key not in local_cache:
                mean, prec = fits[fit_key]
                model = LocalModel(
                    torch.from_numpy(mean.astype(np.float32)), torch.from_numpy(whitening(prec, cfg.storage))
                )
                local_cache[key] = {
                    g: model.dist(embedding(f, cfg.local_layers, cfg.local_dims)) for g, f in groups.items()
                }
            gkey = (cfg.rank, cfg.copies_global, cfg.global_parts, cfg.global_input, cfg.n_copies)
            if gkey not in glob_cache:
                g_goods, g_bad, g_nuis = inputs[cfg.global_input]
                g_groups = {"hold": g_goods.desc[sp.hold], "test": g_goods.desc[sp.test], "bad": g_bad.desc}
                if sp.name == "fixed":
                    g_groups |= {f"n:{k}": v.desc for k, v in g_nuis.items()}
                desc = g_goods.desc[sp.fit]
                if cfg.copies_global and not cfg.global_input:
                    desc = np.concatenate([desc, *(c.desc for c in copy_feats[: cfg.n_copies])])
                elif cfg.copies_global and cfg.global_input in low_copies:
                    low = low_copies[cfg.global_input][: cfg.n_copies]
                    desc = np.concatenate([desc, *(c.desc[sp.fit] for c in low)])
                gm = LowRankGaussian.fit(desc_view(desc, cfg.global_parts), max_rank=cfg.rank)
                glob_cache[gkey] = {
                    g: gm.distance(desc_view(d, cfg.global_parts)) for g, d in g_groups.items()
                }
            pkey = (*key, cfg.sigma, cfg.top)
            if pkey not in peaks:
                peaks[pkey] = {g: peak(d, cfg.sigma, top=cfg.top) for g, d in local_cache[key].items()}
            scores = fuse(cfg, peaks[pkey], glob_cache[gkey])
            nuisance = {k[2:]: v for k, v in scores.items() if k.startswith("n:")} or None
            loc, glo = peaks[pkey], glob_cache[gkey]
            branches = {g: (_z(loc[g], loc["hold"]), _z(glo[g], glo["hold"])) for g in loc}
            per_cfg[cfg.name] = metrics(scores, s.defect_types, nuisance, subset, cfg.threshold, branches)
            if sp.name == "fixed" and cfg.name in pixel_configs and all(m is not None for m in s.masks):
                per_cfg[cfg.name]["pixel"] = pixel_metrics(
                    cfg,
                    local_cache[key],
                    peaks[pkey],
                    glob_cache[gkey],
                    list(s.masks),
                    s.defect_types,
                )
        result["splits"][sp.name] = per_cfg
        d = per_cfg.get(DEFAULT.name) or next(iter(per_cfg.values()))
        log(
            f"  {s.name} / {sp.name}: fit {len(sp.fit)} hold {len(sp.hold)} "
            f"test {len(sp.test)}+{len(s.defects)}; "
            f"default AUROC {d['auroc']:.4f} recall@1% {d['recall_at_1pct_frr']:.3f} "
            f"({time.perf_counter() - t0:.0f} s, load {os.getloadavg()[0]:.1f})"
        )
        # every config's figures as the split finishes: a long run on a loaded machine that
        # is stopped early still leaves its finished splits for paired comparisons
        for name, v in per_cfg.items():
            nz = max((n["diff"] for n in v.get("nuisance", {}).values()), default=float("nan"))
            log(
                f"    split-result {s.name} | {sp.name} | {name} | AUROC {v['auroc']:.5f} "
                f"| recall@1% {v['recall_at_1pct_frr']:.4f} | worst nuisance {nz:+.3f}"
            )
    return result


def summarise(results: dict[str, Any], configs: list[str]) -> dict[str, Any]:
    """Per set and config: mean ± sd over splits; suite means; paired differences to the default."""
    table: dict[str, Any] = {}
    for set_name, r in results.items():
        table[set_name] = {}
        for c in configs:
            rows = [sp[c] for sp in r["splits"].values()]
            entry = {}
            for m in ("auroc", "recall_at_1pct_frr", "frr_at_threshold", "recall_at_threshold"):
                v = np.array([row[m] for row in rows])
                entry[m] = [float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, float(v.min())]
            if DEFAULT.name in configs:
                dv = np.array(
                    [
                        row["auroc"] - sp[DEFAULT.name]["auroc"]
                        for row, sp in zip(rows, r["splits"].values(), strict=True)
                    ]
                )
                entry["auroc_minus_default"] = [
                    float(dv.mean()),
                    float(dv.std(ddof=1)) if len(dv) > 1 else 0.0,
                ]
            nz = r["splits"]["fixed"][c].get("nuisance", {})
            entry["nuisance_worst_diff"] = max((v["diff"] for v in nz.values()), default=0.0)
            table[set_name][c] = entry
    suite = {
        c: {
            "mean_auroc": float(np.mean([table[s][c]["auroc"][0] for s in table])),
            "mean_recall_at_1pct_frr": float(np.mean([table[s][c]["recall_at_1pct_frr"][0] for s in table])),
            "worst_nuisance_diff": float(max(table[s][c]["nuisance_worst_diff"] for s in table)),
        }
        for c in configs
    }
    return {"per_set": table, "suite": suite}


def leave_one_type_out(results: dict[str, Any], configs: list[str]) -> list[dict[str, Any]]:
    """Choose the config on every other (set, type), score it on the left-out type."""
    cells: dict[tuple[str, str], dict[str, float]] = {}
    for set_name, r in results.items():
        for c in configs:
            for t in r["splits"]["fixed"][c]["per_type"]:
                v = np.mean([sp[c]["per_type"][t] for sp in r["splits"].values()])
                cells.setdefault((set_name, t), {})[c] = float(v)
    out = []
    for left in cells:
        others = [k for k in cells if k != left]
        chosen = max(configs, key=lambda c: np.mean([cells[k][c] for k in others]))
        out.append(
            {
                "set": left[0],
                "left_out": left[1],
                "chosen": chosen,
                "auroc_chosen": cells[left][chosen],
                "auroc_default": cells[left].get(DEFAULT.name, float("nan")),
                "best_possible": max(cells[left].values()),
            }
        )
    return out


def print_lodo(rows: list[dict[str, Any]]) -> None:
    print("\nleave one defect type out (config chosen on the rest of the suite):")
    for row in rows:
        print(
            f"  {row['set']:<26} {row['left_out']:<14} chosen {row['chosen']:<20} {row['auroc_chosen']:.4f} "
            f"(default {row['auroc_default']:.4f}, best {row['best_possible']:.4f})"
        )


def markdown(report: dict[str, Any]) -> str:
    """The docs' tables from a report: per set (default vs the PaDiM recipe), then the configs."""
    per_set, suite = report["summary"]["per_set"], report["summary"]["suite"]

    def ms(v: list[float], digits: int = 3) -> str:
        return f"{v[0]:.{digits}f} ± {v[1]:.{digits}f}"

    lines = [
        "| set | splits | image AUROC (min) | recall at 1 % FRR | FRR / recall at the calibrated threshold "
        "| PaDiM recipe AUROC | worst nuisance Δ FRR |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, per in per_set.items():
        d, p = per.get(DEFAULT.name), per.get("padim-recipe")
        if d is None:
            continue
        n = len(report["results"][name]["splits"])
        lines.append(
            f"| {name} | {n} | {ms(d['auroc'])} ({d['auroc'][2]:.3f}) | {ms(d['recall_at_1pct_frr'], 2)} "
            f"| {d['frr_at_threshold'][0]:.3f} / {d['recall_at_threshold'][0]:.3f} "
            f"| {ms(p['auroc']) if p else '–'} | {d['nuisance_worst_diff']:+.3f} |"
        )
    lines += [
        "",
        "| config | suite mean AUROC | Δ vs default per set (mean ± sd over splits) | recall at 1 % FRR "
        "| worst nuisance Δ FRR |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c, v in suite.items():
        deltas = ", ".join(
            f"{per[c]['auroc_minus_default'][0]:+.3f} ± {per[c]['auroc_minus_default'][1]:.3f}"
            for per in per_set.values()
            if "auroc_minus_default" in per[c]
        )
        lines.append(
            f"| {c} | {v['mean_auroc']:.4f} | {deltas} | {v['mean_recall_at_1pct_frr']:.3f} "
            f"| {v['worst_nuisance_diff']:+.3f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=SHARED, help="folder of MVTec-layout real sets")
    parser.add_argument("--splits", type=int, default=3, help="random splits per set, besides the fixed one")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated names")
    parser.add_argument("--no-synthetic", action="store_true")
    parser.add_argument("--only", default=None, help="run only the sets whose name contains this")
    parser.add_argument("--synthetic-size", default="80,30,8", help="train goods, test goods, per defect")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--nuisance-goods", type=int, default=135, help="fixed-split test goods that get each nuisance"
    )
    parser.add_argument(
        "--pixel-configs",
        default="default,fusion sum,nuisance copies",
        help="configs whose AUPRO and pixel AUROC are computed (fixed split)",
    )
    parser.add_argument("--cache", type=Path, default=ROOT / "bench" / "results" / "cache" / "generalisation")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "generalisation.json")
    parser.add_argument("--markdown", type=Path, default=None, help="only print the tables of a report")
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        default=None,
        help="reports of runs on parts of the suite: one report",
    )
    args = parser.parse_args()
    if args.merge:
        parts = [json.loads(f.read_text()) for f in args.merge]
        names = [n for n in parts[0]["configs"] if all(n in p["configs"] for p in parts)]
        merged = {k: v for p in parts for k, v in p["results"].items()}
        report = {
            "configs": {n: parts[0]["configs"][n] for n in names},
            "merged_from": [str(f) for f in args.merge],
            "summary": summarise(merged, names),
            "leave_one_type_out": leave_one_type_out(merged, names),
            "results": merged,
        }
        args.json.write_text(json.dumps(report, indent=1))
        print(markdown(report))
        print_lodo(report["leave_one_type_out"])
        return 0
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return 0
    torch.set_num_threads(args.threads)
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        print(f"unknown configs {unknown}; known: {list(CONFIGS)}", file=sys.stderr)
        return 2
    configs = [CONFIGS[n] for n in names]
    sets = real_sets(args.data) if args.data.is_dir() else []
    if not args.no_synthetic:
        n_train, n_test, per = (int(x) for x in args.synthetic_size.split(","))
        sets += synthetic_sets(args.cache / "datasets", n_train, n_test, per)
    sets = [s for s in sets if args.only is None or args.only in s.name]
    t0 = time.perf_counter()
    results = {}
    for s in sets:
        print(f"{s.name}: {len(s.goods)} goods, {len(s.defects)} defects ({s.kind})", flush=True)
        results[s.name] = run_set(
            s,
            configs,
            args.splits,
            args.cache,
            args.threads,
            lambda m: print(m, flush=True),
            args.nuisance_goods,
            {n.strip() for n in args.pixel_configs.split(",")},
        )
    summary = summarise(results, names)
    lodo = leave_one_type_out(results, names)
    report = {
        "configs": {c.name: asdict(c) for c in configs},
        "random_splits": args.splits,
        "seconds": round(time.perf_counter() - t0, 1),
        "load_average": os.getloadavg(),
        "summary": summary,
        "leave_one_type_out": lodo,
        "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1))
    print(f"\n{'config':<22} {'suite AUROC':>11} {'recall@1%':>9} {'worst nuisance Δ':>16}")
    for c, v in summary["suite"].items():
        print(
            f"{c:<22} {v['mean_auroc']:>11.4f} {v['mean_recall_at_1pct_frr']:>9.3f} "
            f"{v['worst_nuisance_diff']:>+16.3f}"
        )
    for set_name, per in summary["per_set"].items():
        print(f"\n{set_name}  (mean ± sd over {len(results[set_name]['splits'])} splits, min)")
        for c, e in per.items():
            a, rc = e["auroc"], e["recall_at_1pct_frr"]
            diff = e.get("auroc_minus_default", [0, 0])
            print(
                f"  {c:<22} AUROC {a[0]:.4f} ± {a[1]:.4f} (min {a[2]:.4f})  "
                f"Δdefault {diff[0]:+.4f} ± {diff[1]:.4f}"
                f"  recall@1% {rc[0]:.3f} ± {rc[1]:.3f}  FRR@th {e['frr_at_threshold'][0]:.3f}"
                f"  recall@th {e['recall_at_threshold'][0]:.3f}"
            )
        for c, v in results[set_name]["splits"]["fixed"].items():
            if "pixel" in v:
                px = v["pixel"]
                types = " ".join(f"{t} {v:.3f}" for t, v in px["pixel_auroc_per_type"].items())
                print(
                    f"  {c:<22} AUPRO {px['aupro']:.4f}  pixel AUROC {px['pixel_auroc']:.4f}  "
                    f"per type mean {px['pixel_auroc_type_mean']:.4f} ({types}) (fixed split)"
                )
        fixed = results[set_name]["splits"]["fixed"].get(DEFAULT.name, {})
        for name, v in fixed.get("nuisance", {}).items():
            lo, hi = v["diff_ci95"]
            print(
                f"    nuisance {name:<12} FRR {v['frr']:.3f} vs {v['frr_unvaried']:.3f}  "
                f"Δ {v['diff']:+.3f} [{lo:+.3f}, {hi:+.3f}]  median score {v['median']:.2f} "
                f"vs {v['median_unvaried']:.2f}, threshold {v['threshold']:.2f}; "
                f"local z {v['median_local']:.2f} vs {v['median_local_unvaried']:.2f}, "
                f"global z {v['median_global']:.2f} vs {v['median_global_unvaried']:.2f}, "
                f"flagged by local {v['flagged_by_local']:.2f}"
            )
    print_lodo(lodo)
    print(f"\n{report['seconds']:.0f} s, load average {os.getloadavg()[0]:.1f}; figures: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
