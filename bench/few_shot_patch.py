"""Patch-level few-shot evidence: a defect subspace of the local branch's whitened residuals (#24).

The shipped few-shot rule (``vision.fewshot``) only reweights the two branch *scores*; its
oracle ceiling on magnetic tile is 0.88 recall at 1 % false rejects, so more has to come
from features the labelled defects can train. Here the labelled defects' masks (or, with
no mask, the top patches of the local map: multiple-instance style) mark **defect
patches** on the local branch's grid, and the local branch's whitened residuals
``r = (x − μ_p) L_p`` (the vectors whose length is the zero-shot local distance) of those
patches are set against the held-out goods' patches:

* ``quad`` — the generalised eigenvectors ``u`` of (defect second moment, goods' second
  moment) with the largest ratios, the defect moment shrunk towards the goods' (α): a low-
  rank subspace where defect patches carry much more energy than good ones. The patch score
  is ``sqrt(Σ (u·r)²)`` (``u`` scaled to unit energy on the goods' patches), the image
  score the peak of its smoothed map, like the local branch's;
* ``lin`` — one regularised discriminant direction (LDA on the same patches), score ``w·r``.

The image's evidence ``z_patch`` is that peak standardised on the held-out goods. It is
fused with the shipped few-shot score as ``s_few + v · z_patch``, ``v`` chosen like the
shipped weight (partial AUROC to 5 % of the held-out goods against the labelled defects),
but with each labelled defect's ``z_patch`` from a subspace fitted **without** it
(leave one image out), so the choice sees held-out evidence; ``v = 0`` (the shipped
few-shot score) is kept unless another weight separates strictly better.

Bench-only (``bench_few_shot.py --patch``): what it measures decides whether it goes in
the graph (per-position ``L_p U`` matrices, a 1×1 product per position: exportable).
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
import torch.nn.functional as F  # noqa: N812

from bench_generalisation import DEFAULT, embedding, fit_precision, peak, splits, whitening
from generalisation_data import Features, ImageSet, extract
from lineguard.vision.evaluate import load_mask
from lineguard.vision.fewshot import partial_auc

#: Weights of the patch evidence labelled defects choose from (0: the shipped few-shot score).
PATCH_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0)


@dataclass(slots=True)
class PatchData:
    """A split's whitened local residuals (float16, [N, P, C]) per group, and defect patch labels."""

    resid: dict[str, np.ndarray]
    #: [n_bad, P] share of each grid cell inside the defect's mask (NaN rows: no mask)
    cover: np.ndarray
    good_mean: np.ndarray  # [C] mean residual of the held-out goods' patches
    good_moment: np.ndarray  # [C, C] their second moment
    side: int


def whitened_residuals(emb: np.ndarray, mean: np.ndarray, factor: np.ndarray, batch: int = 16) -> np.ndarray:
    """(x − μ_p) L_p for every position: [N, P, C] float16 (its norm is the local distance)."""
    m = torch.from_numpy(mean.astype(np.float32))
    fac = torch.from_numpy(factor.astype(np.float32))
    out = []
    for i in range(0, len(emb), batch):
        x = torch.from_numpy(emb[i : i + batch].astype(np.float32)).flatten(2).permute(2, 0, 1) - m[:, None]
        out.append(torch.bmm(x, fac).permute(1, 0, 2).numpy().astype(np.float16))  # [n, P, C]
    return np.concatenate(out)


def mask_cover(masks: tuple[object, ...], side: int, size: int = 256) -> np.ndarray:
    """Each defect's mask as the share of each of ``side``² grid cells it covers (NaN: no mask)."""
    out = np.full((len(masks), side * side), np.nan)
    for i, p in enumerate(masks):
        if p is None:
            continue
        m = torch.from_numpy(load_mask(p, size, size).astype(np.float32))[None, None]  # type: ignore[arg-type]
        out[i] = F.adaptive_avg_pool2d(m, side).flatten().numpy()
    return out


def patch_data(resid: dict[str, np.ndarray], cover: np.ndarray) -> PatchData:
    hold = resid["hold"].reshape(-1, resid["hold"].shape[-1]).astype(np.float64)
    side = round(np.sqrt(resid["hold"].shape[1]))
    return PatchData(resid, cover, hold.mean(0), hold.T @ hold / len(hold), side)


def defect_patches(pd: PatchData, idx: np.ndarray, min_cover: float = 0.25, top: int = 4) -> np.ndarray:
    """The labelled defects' patches: mask cover ≥ ``min_cover`` (at least the best-covered
    cell); without a mask the ``top`` patches of the zero-shot local map (multiple instances)."""
    rows = []
    for i in idx:
        r = pd.resid["bad"][i].astype(np.float64)
        c = pd.cover[i]
        if np.isnan(c).any() or c.max() <= 0:
            keep = np.argsort(-(r * r).sum(1))[:top]
        else:
            keep = np.flatnonzero(c >= min(min_cover, c.max()))
        rows.append(r[keep])
    return np.concatenate(rows)


@dataclass(slots=True)
class Projection:
    """Per-patch evidence: ``sqrt(Σ (u·r)²)`` over the ``basis`` columns (quad), ``w·(r − μ)``
    (lin), ``max_j (2 r·d_j − |d_j|²)`` over prototype columns ``d_j`` (proto: the nearest
    labelled defect patch against the goods' centre, ``few_shot_cells``) or a logistic layer's
    logit ``w·r + c·|r| + b`` (logit, ``few_shot_cells``; ``basis`` [C + 1, 1])."""

    kind: str
    basis: np.ndarray  # [C, m]
    offset: np.ndarray  # [C]
    bias: np.ndarray | None = None  # [m]: proto's −|d_j|², logit's intercept

    def maps(self, resid: np.ndarray, batch: int = 64) -> torch.Tensor:
        side = round(np.sqrt(resid.shape[1]))
        out = []
        basis = torch.from_numpy(self.basis.astype(np.float32))
        bias = None if self.bias is None else torch.from_numpy(self.bias.astype(np.float32))
        for i in range(0, len(resid), batch):
            centred = torch.from_numpy(
                resid[i : i + batch].astype(np.float32) - self.offset.astype(np.float32)
            )
            if self.kind == "logit":  # the layer reads the residual and its length
                norm = centred.norm(dim=-1, keepdim=True)
                s = (torch.cat([centred, norm], -1) @ basis)[..., 0] + (0 if bias is None else bias[0])
            elif self.kind == "proto":
                s = (2 * (centred @ basis) + (0 if bias is None else bias)).amax(-1)
            else:
                p = centred @ basis
                s = p.square().sum(-1).sqrt() if self.kind == "quad" else p[..., 0]
            out.append(s.reshape(len(s), side, side))
        return torch.cat(out)


def fit_projection(
    pd: PatchData, pos: np.ndarray, kind: str = "quad", rank: int = 8, alpha: float = 0.3
) -> Projection:
    """The defect subspace (``quad``), direction (``lin``) or every direction weighted by its
    defect / good energy ratio capped at ``rank`` (``ratio``) from defect patches ``pos`` [n, C]."""
    c = pd.good_moment.shape[0]
    g = pd.good_moment + 1e-6 * np.trace(pd.good_moment) / c * np.eye(c)
    if kind == "lin":
        cov = g - np.outer(pd.good_mean, pd.good_mean)
        cov = (1 - alpha) * cov + alpha * np.trace(cov) / c * np.eye(c)
        w = np.linalg.solve(cov, pos.mean(0) - pd.good_mean)
        w /= np.sqrt(w @ cov @ w)
        return Projection("lin", w[:, None], pd.good_mean)
    d = pos.T @ pos / len(pos)
    d = (1 - alpha) * d + alpha * g
    # generalised symmetric eigenproblem d u = λ g u via g's Cholesky factor
    lg = np.linalg.cholesky(g)
    inv = np.linalg.inv(lg)
    vals, vecs = np.linalg.eigh(inv @ d @ inv.T)
    if kind == "ratio":  # every direction, weighted by its defect / good energy ratio (capped at rank)
        u = (inv.T @ vecs) * np.sqrt(np.clip(vals, 0.0, rank))
        return Projection("quad", u, np.zeros(c))
    u = inv.T @ vecs[:, ::-1][:, :rank]  # uᵀ g u = 1: unit energy on the goods' patches
    return Projection("quad", u, np.zeros(c))


def image_scores(proj: Projection, resid: np.ndarray, sigma: float = 4.0) -> np.ndarray:
    return peak(proj.maps(resid), sigma)


def patch_evidence(
    pd: PatchData, labelled: np.ndarray, kind: str, rank: int, alpha: float, sigma: float = 4.0
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """z_patch of the held-out goods, test goods and every defect (full fit), and of each
    labelled defect from a fit without it (leave one image out)."""
    proj = fit_projection(pd, defect_patches(pd, labelled), kind, rank, alpha)
    raw = {g: image_scores(proj, r, sigma) for g, r in pd.resid.items()}
    ref = raw["hold"]
    mu, sd = float(ref.mean()), max(float(ref.std()), 1e-6)
    z = {g: (v - mu) / sd for g, v in raw.items()}
    loo = np.empty(len(labelled))
    for j, i in enumerate(labelled):
        rest = np.delete(labelled, j)
        p = fit_projection(pd, defect_patches(pd, rest), kind, rank, alpha)
        # standardised as the full fit's: both are scaled to unit energy on the goods' patches,
        # and scoring the held-out goods again for every left-out image costs 25x at k = 5
        loo[j] = (image_scores(p, pd.resid["bad"][i : i + 1], sigma)[0] - mu) / sd
    return z, loo


def choose_patch_weight(
    good_few: np.ndarray,
    good_patch: np.ndarray,
    defect_few: np.ndarray,
    defect_patch_loo: np.ndarray,
    max_frr: float = 0.05,
) -> float:
    """The weight ``v`` of ``s_few + v · z_patch`` (0 unless another separates strictly better)."""
    best, best_sep = 0.0, partial_auc(good_few, defect_few, max_frr)
    for v in PATCH_WEIGHTS[1:]:
        sep = partial_auc(good_few + v * good_patch, defect_few + v * defect_patch_loo, max_frr)
        if sep > best_sep + 1e-12:
            best, best_sep = v, sep
    return best


def split_patch_data(
    s: ImageSet,
    n_random: int,
    feature_cache: Path,
    cache: Path,
    threads: int,
    log: Callable[[str], None],
    only: int | None = None,
) -> list[PatchData | None]:
    """PatchData of the fixed split and ``n_random`` random ones (``few_shot_data.set_branches``'
    splits, the shipped local fit; ``only``: that split's alone, None for the others), from the
    suite's cached backbone features; the residuals
    are cached under ``cache`` (float16, about 200 MB per magnetic tile split)."""

    def features(paths: list[Path], what: str) -> Features:
        tag = f"{s.name} {what}"
        return extract(paths, cache=feature_cache, tag=tag, transform=s.condition, threads=threads, log=log)

    goods: Features | None = None
    bad: Features | None = None
    cover: np.ndarray | None = None
    out: list[PatchData | None] = []
    for index, sp in enumerate(splits(s, n_random)):
        if only is not None and index != only:  # another process's split (``--split-index``)
            out.append(None)
            continue
        # the local fit's settings only: a new HeadConfig field elsewhere must not drop 200 MB files
        fit: tuple[object, ...] = (
            DEFAULT.shrink,
            DEFAULT.neighbourhood,
            DEFAULT.shrink_floor,
            DEFAULT.pool,
            DEFAULT.storage,
        )
        if DEFAULT.grid_ridge:  # 0 keeps the key of the files before it
            fit = (*fit, DEFAULT.grid_ridge)
        h = hashlib.sha256(f"{s.name}|{sp.name}|{len(s.goods)}|{len(s.defects)}|{fit}".encode())
        for a in (sp.fit, sp.hold, sp.test):
            h.update(a.tobytes())
        name = f"{s.name.replace(' ', '_').replace('+', 'p')}-{sp.name.replace(' ', '')}"
        file = cache / f"patch-{name}-{h.hexdigest()[:12]}.npz"
        if file.is_file():
            with np.load(file) as z:
                resid = {g: z[g] for g in ("hold", "test", "bad")}
                cover = z["cover"]
        else:
            t0 = time.perf_counter()
            if goods is None or bad is None:
                goods, bad = features(s.goods, "goods"), features(s.defects, "defects")
            cover = mask_cover(s.masks or (None,) * len(s.defects), side=goods.s8.shape[-1])
            mean, prec = fit_precision(embedding(goods.take(sp.fit), ("s8", "s16")), DEFAULT)
            factor = whitening(prec, "float16")
            resid = {
                g: whitened_residuals(embedding(f, ("s8", "s16")), mean, factor)
                for g, f in (("hold", goods.take(sp.hold)), ("test", goods.take(sp.test)), ("bad", bad))
            }
            tmp = file.with_name(f"{file.stem}.{os.getpid()}.tmp.npz")
            np.savez(tmp, cover=cover, **resid)
            os.replace(tmp, file)
            log(
                f"  patch residuals {s.name} / {sp.name}: {time.perf_counter() - t0:.0f} s "
                f"(load {os.getloadavg()[0]:.1f})"
            )
        out.append(patch_data(resid, cover))
    return out
