"""Per-image branch scores of the suite's sets, for the few-shot bench (issue #24, item 2).

For every set of the generalisation suite and every split (the fixed one, then random
splits of the pooled goods, as ``bench_generalisation.splits``) this computes, once and
cached, what a few-shot layer may read of an image without another backbone pass:

* ``local`` — the peak of the smoothed local map (float16 factors, as the package stores them);
* ``global`` — the global branch's distance (``LowRankGaussian``, rank 256) on the
  descriptor of the image low-passed as the shipped graph does (``lowpass``, default
  σ 2.5 at 256 px: ``TrainConfig.global_lowpass``; ``None`` reads the local pass's
  descriptor, the default before #24's fifth session);
* ``stages`` — the global distance of each backbone stage's part of that descriptor alone
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

from bench_generalisation import DEFAULT, LocalModel, embedding, fit_precision, peak, splits, whitening
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


def _branches(
    fit: Features, fit_desc: np.ndarray, groups: dict[str, tuple[Features, np.ndarray]]
) -> dict[str, Branches]:
    """Branch scores; ``*_desc`` are the global branch's descriptors (maybe of another pass)."""
    # the shipped local fit (shrinkage floor 0.05)
    mean, prec = fit_precision(embedding(fit, ("s8", "s16")), DEFAULT)
    lm = LocalModel(torch.from_numpy(mean.astype(np.float32)), torch.from_numpy(whitening(prec, "float16")))
    gm = LowRankGaussian.fit(fit_desc, max_rank=256)
    cols = stage_columns(fit_desc.shape[1])
    stage_models = [LowRankGaussian.fit(fit_desc[:, c], max_rank=64) for c in cols]
    out = {}
    for g, (f, desc) in groups.items():
        d = desc.astype(np.float64) - gm.mean
        out[g] = Branches(
            local=peak(lm.dist(embedding(f, ("s8", "s16"))), 4.0),
            glob=gm.distance(desc),
            stages=np.stack([m.distance(desc[:, c]) for m, c in zip(stage_models, cols, strict=True)], 1),
            white=(d @ gm.basis) * np.sqrt(gm.inv_var),
        )
    return out


#: The shipped global branch's input (``TrainConfig.global_lowpass`` σ at 256 px, step 1).
SHIPPED_LOWPASS = (2.5, 1)


def set_branches(
    s: ImageSet,
    n_random: int,
    feature_cache: Path,
    cache: Path,
    threads: int,
    log: Callable[[str], None],
    lowpass: tuple[float, int] | None = SHIPPED_LOWPASS,
) -> list[tuple[str, dict[str, Branches]]]:
    """[(split name, {group: Branches})] for the fixed split and ``n_random`` random ones.

    Backbone features are read from (or written to) ``feature_cache``, the suite's cache
    (with ``lowpass`` a second, descriptor-only pass over the low-passed images); the
    branch scores are cached under ``cache``.
    """
    cache.mkdir(parents=True, exist_ok=True)

    def features(paths: list[Path], what: str, low: tuple[float, int] | None = None) -> Features:
        return extract(
            paths,
            cache=feature_cache,
            tag=f"{s.name} {what}",
            transform=s.condition,
            threads=threads,
            log=log,
            lowpass=low,
        )

    goods, bad = features(s.goods, "goods"), features(s.defects, "defects")
    g_desc, b_desc = goods.desc, bad.desc
    if lowpass is not None:
        g_desc, b_desc = (
            features(s.goods, "goods", lowpass).desc,
            features(s.defects, "defects", lowpass).desc,
        )
    out = []
    for sp in splits(s, n_random):
        lp = "" if lowpass is None else f"|lowpass {lowpass[0]}/{lowpass[1]}"
        fit = f"floor {DEFAULT.shrink_floor}" + (f"|ridge {DEFAULT.grid_ridge}" if DEFAULT.grid_ridge else "")
        h = hashlib.sha256(f"{s.name}|{sp.name}|{len(s.goods)}|{len(s.defects)}{lp}|{fit}".encode())
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
                goods.take(sp.fit),
                g_desc[sp.fit],
                {
                    "hold": (goods.take(sp.hold), g_desc[sp.hold]),
                    "test": (goods.take(sp.test), g_desc[sp.test]),
                    "bad": (bad, b_desc),
                },
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
