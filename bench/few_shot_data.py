"""Per-image branch scores of the suite's sets, for the few-shot bench (issue #24, item 2).

For every set of the generalisation suite and every split (the fixed one, then random
splits of the pooled goods, as ``bench_generalisation.splits``) this computes, once and
cached, what a few-shot layer may read of an image without another backbone pass:

* ``local`` — the peak of the smoothed local map (float16 factors, as the package stores them);
* ``global`` — the global branch's distance (``LowRankGaussian``, rank 256);
* ``stages`` — the global distance of each backbone stage's part of the descriptor alone
  (strides 4, 8, 16, 32; rank 64 each): where a defect type shows;
* ``white`` — the descriptor's whitened coordinates in the global basis
  (``(x − μ) V · sqrt(inv_var)``), for a discriminative direction.

Groups: ``hold`` (the split's held-out goods: standardise and calibrate, as training
does), ``test`` (its test goods) and ``bad`` (every defect, typed by ``types``).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bench_generalisation import LocalModel, embedding, fit_precision, peak, splits, whitening
from generalisation_data import Features, ImageSet, extract
from lineguard.vision.scoring import LowRankGaussian

GROUPS = ("hold", "test", "bad")
#: Channels of the stride-8/16/32 stages in the descriptor (the stride-4 stage is the rest).
DEEP_CHANNELS = (32, 96, 160)


@dataclass(slots=True)
class Branches:
    local: np.ndarray  # [N]
    glob: np.ndarray  # [N]
    stages: np.ndarray  # [N, 4]
    white: np.ndarray  # [N, r]


def stage_columns(dim: int) -> list[np.ndarray]:
    per = [dim // 22 - sum(DEEP_CHANNELS), *DEEP_CHANNELS]
    out, start = [], 0
    for c in per:
        out.append(np.arange(start, start + 22 * c))
        start += 22 * c
    return out


def _branches(fit: Features, groups: dict[str, Features]) -> dict[str, Branches]:
    mean, prec = fit_precision(embedding(fit, ("s8", "s16")), "ledoit-wolf")
    lm = LocalModel(torch.from_numpy(mean.astype(np.float32)), torch.from_numpy(whitening(prec, "float16")))
    gm = LowRankGaussian.fit(fit.desc, max_rank=256)
    cols = stage_columns(fit.desc.shape[1])
    stage_models = [LowRankGaussian.fit(fit.desc[:, c], max_rank=64) for c in cols]
    out = {}
    for g, f in groups.items():
        d = f.desc.astype(np.float64) - gm.mean
        out[g] = Branches(
            local=peak(lm.dist(embedding(f, ("s8", "s16"))), 4.0),
            glob=gm.distance(f.desc),
            stages=np.stack([m.distance(f.desc[:, c]) for m, c in zip(stage_models, cols, strict=True)], 1),
            white=(d @ gm.basis) * np.sqrt(gm.inv_var),
        )
    return out


def set_branches(
    s: ImageSet, n_random: int, feature_cache: Path, cache: Path, threads: int, log: Callable[[str], None]
) -> list[tuple[str, dict[str, Branches]]]:
    """[(split name, {group: Branches})] for the fixed split and ``n_random`` random ones.

    Backbone features are read from (or written to) ``feature_cache``, the suite's cache;
    the branch scores are cached under ``cache``.
    """
    cache.mkdir(parents=True, exist_ok=True)
    goods = extract(
        s.goods, cache=feature_cache, tag=f"{s.name} goods", transform=s.condition, threads=threads, log=log
    )
    bad = extract(
        s.defects,
        cache=feature_cache,
        tag=f"{s.name} defects",
        transform=s.condition,
        threads=threads,
        log=log,
    )
    out = []
    for sp in splits(s, n_random):
        h = hashlib.sha256(f"{s.name}|{sp.name}|{len(s.goods)}|{len(s.defects)}".encode())
        for a in (sp.fit, sp.hold, sp.test):
            h.update(a.tobytes())
        name = f"{s.name.replace(' ', '_').replace('+', 'p')}-{sp.name.replace(' ', '')}"
        file = cache / f"few-{name}-{h.hexdigest()[:12]}.npz"
        if file.is_file():
            with np.load(file) as z:
                br = {
                    g: Branches(z[f"{g}_local"], z[f"{g}_glob"], z[f"{g}_stages"], z[f"{g}_white"])
                    for g in GROUPS
                }
        else:
            t0, c0 = time.perf_counter(), time.process_time()
            br = _branches(
                goods.take(sp.fit), {"hold": goods.take(sp.hold), "test": goods.take(sp.test), "bad": bad}
            )
            np.savez(
                file,
                **{
                    f"{g}_{k}": getattr(b, k)
                    for g, b in br.items()
                    for k in ("local", "glob", "stages", "white")
                },
            )
            log(
                f"  branches {s.name} / {sp.name}: {time.perf_counter() - t0:.0f} s wall, "
                f"{time.process_time() - c0:.0f} s CPU (load {os.getloadavg()[0]:.1f})"
            )
        out.append((sp.name, br))
    return out
