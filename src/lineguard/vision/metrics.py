"""Detection metrics in plain numpy: ROC / AUROC, recall at a false-reject rate, P/R/F1.

Convention everywhere: label 1 = defective (positive), 0 = good; larger score = more
anomalous. The false-reject rate (FRR) is the share of good parts scored above the
threshold, i.e. the false-positive rate of the ROC curve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lineguard.contracts.errors import InputError

__all__ = ["ThresholdStats", "auroc", "recall_at_frr", "roc_curve", "stats_at_threshold"]

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
