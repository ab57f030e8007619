"""Detection metrics in plain numpy: ROC / AUROC, recall at a false-reject rate, P/R/F1,
and the localisation metric AUPRO.

Convention everywhere: label 1 = defective (positive), 0 = good; larger score = more
anomalous. The false-reject rate (FRR) is the share of good parts scored above the
threshold, i.e. the false-positive rate of the ROC curve.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from lineguard.contracts.errors import InputError

__all__ = [
    "AUPRO_MAX_FPR",
    "ThresholdStats",
    "aupro",
    "auroc",
    "recall_at_frr",
    "roc_curve",
    "stats_at_threshold",
]

FloatArray = npt.NDArray[np.floating]


def _check(labels: npt.ArrayLike, scores: npt.ArrayLike) -> tuple[npt.NDArray[np.bool_], FloatArray]:
    y = np.asarray(labels).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        msg = f"labels and scores differ in length: {y.size} vs {s.size}"
        raise InputError(msg)
    if not np.isfinite(s).all():
        msg = "scores contain NaN or infinity"
        raise InputError(msg)
    return y, s


def roc_curve(labels: npt.ArrayLike, scores: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(false-positive rate, true-positive rate, thresholds), thresholds descending; ties merged."""
    y, s = _check(labels, scores)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        msg = f"ROC needs both classes, got {pos} defective and {neg} good"
        raise InputError(msg)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    distinct = np.r_[np.flatnonzero(np.diff(s_sorted)), y.size - 1]
    tps = np.cumsum(y_sorted)[distinct]
    fps = (distinct + 1) - tps
    tpr = np.r_[0.0, tps / pos]
    fpr = np.r_[0.0, fps / neg]
    thresholds = np.r_[np.inf, s_sorted[distinct]]
    return fpr, tpr, thresholds


def auroc(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """Area under the ROC curve (ties count one half), via ranks: O(n log n), exact."""
    y, s = _check(labels, scores)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        msg = f"AUROC needs both classes, got {pos} defective and {neg} good"
        raise InputError(msg)
    order = np.argsort(s, kind="mergesort")
    s_sorted = s[order]
    ranks = np.empty(s.size, dtype=np.float64)
    # average ranks over ties
    starts = np.r_[0, np.flatnonzero(np.diff(s_sorted)) + 1]
    ends = np.r_[starts[1:], s.size]
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    return float((ranks[y].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def recall_at_frr(labels: npt.ArrayLike, scores: npt.ArrayLike, frr: float = 0.01) -> float:
    """Share of defects caught when at most ``frr`` of good parts are rejected."""
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(tpr[fpr <= frr + 1e-12].max())


@dataclass(frozen=True, slots=True)
class ThresholdStats:
    threshold: float
    precision: float
    recall: float
    f1: float
    frr: float
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int


def stats_at_threshold(labels: npt.ArrayLike, scores: npt.ArrayLike, threshold: float) -> ThresholdStats:
    """Confusion counts and P/R/F1 when parts scoring strictly above ``threshold`` fail."""
    y, s = _check(labels, scores)
    flagged = s > threshold
    tp = int((flagged & y).sum())
    fp = int((flagged & ~y).sum())
    fn = int((~flagged & y).sum())
    tn = int((~flagged & ~y).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    frr = fp / (fp + tn) if fp + tn else 0.0
    return ThresholdStats(threshold, precision, recall, f1, frr, tp, fp, fn, tn)


#: AUPRO integrates up to this pixel false-positive rate (the MVTec AD definition).
AUPRO_MAX_FPR = 0.3


def aupro(
    masks: npt.ArrayLike, maps: npt.ArrayLike, *, max_fpr: float = AUPRO_MAX_FPR, steps: int = 1000
) -> float:
    """Area under the per-region-overlap curve up to ``max_fpr``, normalised to [0, 1].

    Bergmann et al. (MVTec AD, 2021): at a threshold, the **PRO** is the mean over every
    connected defect region of the ground truth (8-connected, per image) of the share of
    its pixels at or above the threshold, so a small defect counts as much as a large
    one; the **FPR** is the share of all defect-free pixels (of every image) at or above
    it. PRO as a function of the FPR is taken at the lowest threshold whose FPR does not
    exceed it (a step curve), sampled at ``steps`` FPRs from 0 to ``max_fpr``,
    integrated by trapezoids and divided by ``max_fpr``: 1 is perfect, and a map of
    random numbers scores ``max_fpr / 2``.

    ``masks`` (bool, defect = True) and ``maps`` are ``[N, H, W]`` (or one ``[H, W]``).
    """
    m = np.asarray(masks).astype(bool)
    a = np.asarray(maps, dtype=np.float32)
    if m.ndim == 2:
        m, a = m[None], a[None]
    if m.shape != a.shape or m.ndim != 3:
        msg = f"masks and maps must both be [N, H, W] of the same shape, got {m.shape} and {a.shape}"
        raise InputError(msg)
    if not np.isfinite(a).all():
        msg = "anomaly maps contain NaN or infinity"
        raise InputError(msg)
    if not 0.0 < max_fpr <= 1.0 or steps < 2:
        msg = f"need 0 < max_fpr <= 1 and steps >= 2, got {max_fpr} and {steps}"
        raise InputError(msg)
    neg = np.sort(a[~m])
    regions: list[npt.NDArray[np.float32]] = []
    for mask, amap in zip(m, a, strict=True):
        if mask.any():
            count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
            regions += [np.sort(amap[labels == k]) for k in range(1, count)]
    if not regions or neg.size == 0:
        msg = (
            f"AUPRO needs defect and defect-free pixels, got {len(regions)} defect regions "
            f"and {neg.size} other pixels"
        )
        raise InputError(msg)
    fprs = np.linspace(0.0, max_fpr, steps)
    # At FPR f at most k = floor(f N) defect-free pixels may reach the threshold: the lowest
    # such threshold sits just above the (k+1)-th highest of them (ties pull it higher).
    k = np.floor(fprs * neg.size + 1e-9).astype(np.int64)
    above = neg[np.clip(neg.size - 1 - k, 0, neg.size - 1)]
    thresholds = np.where(k >= neg.size, np.float32(-np.inf), np.nextafter(above, np.float32(np.inf)))
    pro = np.mean([(r.size - np.searchsorted(r, thresholds, side="left")) / r.size for r in regions], axis=0)
    return float(np.trapezoid(pro, fprs) / max_fpr)
