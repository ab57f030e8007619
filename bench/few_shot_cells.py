"""Discriminative few-shot evidence on the local branch's cells (#24, tenth session).

``few_shot_patch`` set the labelled defects' cells against the goods' *second moment*
(a subspace, one LDA direction, or every direction reweighted): on magnetic tile none of
it beat the local distance it is cut from. The brief's other two patch-level levers read
the same whitened residuals ``r = (x − μ_p) L_p`` of the local grid (goods: about
``N(0, I)`` at every position) in two more ways:

* ``proto`` — **nearest labelled defect patch**: each labelled defect's ``cap`` most
  anomalous covered cells become prototypes ``d_j``; a cell scores
  ``max_j (|r|² − |r − d_j|²) = max_j (2 r·d_j − |d_j|²)``, how much nearer it lies to the
  nearest defect prototype than to the goods' centre (the log-likelihood ratio of
  ``N(d_j, I)`` against ``N(0, I)``). No good cell is fitted, so the held-out goods that
  standardise it and set the threshold are out of sample.
* ``logit`` — **a logistic layer**: ``w·r + c·|r| + b`` fitted with class-balanced weights
  and an L2 penalty ``alpha`` (Newton's method, deterministic) on the defect cells against
  held-out good cells (a seeded sample plus every held-out good's ``hard`` most anomalous
  cells, which set the false-reject threshold). The held-out goods' own evidence is
  cross-fitted (each half scored by the layer fitted on the other half's cells), so the
  weight's choice and the threshold see goods the layer did not train on.

Either map is smoothed and peaked like the local branch's, standardised on the held-out goods
(``z_cell``) and fused as ``few_shot_patch`` does: ``s_few + v · z_cell``, ``v`` chosen on
the held-out goods and the labelled defects' leave-one-image-out evidence.
"""

from __future__ import annotations

import numpy as np

from few_shot_patch import PatchData, Projection, image_scores

#: Seeded held-out good cells a logistic layer sees as negatives (besides the hard ones).
RANDOM_NEGATIVES = 8000


def defect_cells(pd: PatchData, idx: np.ndarray, cap: int, min_cover: float = 0.25) -> np.ndarray:
    """Per labelled defect its ``cap`` most anomalous cells (largest ``|r|``) among those its
    mask covers (≥ ``min_cover``, at least the best-covered one; no mask: the whole grid)."""
    rows = []
    for i in idx:
        r = pd.resid["bad"][i].astype(np.float64)
        c = pd.cover[i]
        covered = (
            np.arange(len(r))
            if np.isnan(c).any() or c.max() <= 0
            else np.flatnonzero(c >= min(min_cover, c.max()))
        )
        norms = (r[covered] ** 2).sum(1)
        rows.append(r[covered[np.argsort(-norms, kind="stable")[:cap]]])
    return np.concatenate(rows)


def fit_proto(pd: PatchData, idx: np.ndarray, cap: int) -> Projection:
    protos = defect_cells(pd, idx, cap)
    return Projection("proto", protos.T, np.zeros(protos.shape[1]), -(protos**2).sum(1))


def good_negatives(resid: np.ndarray, hard: int, seed: int = 24) -> np.ndarray:
    """Held-out good cells for a logistic layer: a seeded sample and each image's ``hard`` top cells."""
    flat = resid.reshape(-1, resid.shape[-1])
    rng = np.random.default_rng(seed)
    sample = flat[rng.choice(len(flat), size=min(RANDOM_NEGATIVES, len(flat)), replace=False)]
    norms = (resid.astype(np.float32) ** 2).sum(-1)
    top = np.argsort(-norms, axis=1, kind="stable")[:, :hard]
    hard_cells = np.take_along_axis(resid, top[..., None], axis=1).reshape(-1, resid.shape[-1])
    return np.concatenate([sample, hard_cells]).astype(np.float64)


def _design(r: np.ndarray) -> np.ndarray:
    return np.c_[r, np.sqrt((r * r).sum(1)), np.ones(len(r))]


def fit_logit(pos: np.ndarray, neg: np.ndarray, alpha: float, iterations: int = 30) -> Projection:
    """L2-penalised, class-balanced logistic regression of defect cells ``pos`` against good
    cells ``neg`` (the intercept unpenalised), by Newton's method from zero."""
    x = _design(np.concatenate([pos, neg]))
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    w = np.r_[np.full(len(pos), 0.5 / len(pos)), np.full(len(neg), 0.5 / len(neg))]
    penalty = np.full(x.shape[1], alpha)
    penalty[-1] = 0.0
    beta = np.zeros(x.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ beta, -30, 30)))
        grad = x.T @ (w * (p - y)) + penalty * beta
        hess = (x * (w * p * (1 - p))[:, None]).T @ x + np.diag(penalty) + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    c = pos.shape[1]
    return Projection("logit", beta[: c + 1, None], np.zeros(c), beta[c + 1 :])


def cell_evidence(
    pd: PatchData, labelled: np.ndarray, kind: str, rank: int, alpha: float, sigma: float = 4.0
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """z_cell of the held-out goods, test goods and every defect, and of each labelled defect
    from a fit without it (leave one image out). ``rank``: prototypes per labelled image
    (proto) or hard negatives per held-out good (logit); ``alpha``: the layer's L2 penalty."""
    if kind == "proto":

        def fit(idx: np.ndarray) -> Projection:
            return fit_proto(pd, idx, rank)

        full = fit(labelled)
        raw = {g: image_scores(full, r, sigma) for g, r in pd.resid.items()}
    elif kind == "logit":
        cap = 64  # defect cells per labelled image: a large defect must not outvote four small ones
        hold = pd.resid["hold"]
        halves = (np.arange(len(hold)) % 2 == 0, np.arange(len(hold)) % 2 == 1)
        neg_all = good_negatives(hold, rank)

        def fit(idx: np.ndarray) -> Projection:
            return fit_logit(defect_cells(pd, idx, cap), neg_all, alpha)

        full = fit(labelled)
        raw = {g: image_scores(full, r, sigma) for g, r in pd.resid.items() if g != "hold"}
        held = np.empty(len(hold))
        pos = defect_cells(pd, labelled, cap)
        for this, other in (halves, halves[::-1]):  # cross-fitted: each half scored out of sample
            layer = fit_logit(pos, good_negatives(hold[other], rank), alpha)
            held[this] = image_scores(layer, hold[this], sigma)
        raw["hold"] = held
    else:
        msg = f"unknown cell evidence {kind!r} (proto or logit)"
        raise ValueError(msg)
    mu, sd = float(raw["hold"].mean()), max(float(raw["hold"].std()), 1e-6)
    z = {g: (v - mu) / sd for g, v in raw.items()}
    loo = np.empty(len(labelled))
    for j, i in enumerate(labelled):
        loo[j] = (image_scores(fit(np.delete(labelled, j)), pd.resid["bad"][i : i + 1], sigma)[0] - mu) / sd
    return z, loo
