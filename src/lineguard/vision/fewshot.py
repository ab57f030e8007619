"""Few-shot use of labelled defects: how much the local branch weighs in the fused score.

The image score is ``max(z_local, z_global)``, each branch standardised on held-out
good images (``scoring.LocalGlobalHead.combine``). On magnetic tile that fusion loses
recall at the operating point to the *local* branch: its peaks on good tiles are the
highest good scores, so at 1 % false rejects the fused score recalls 0.816 where the
global branch alone recalls 0.936 (docs/detection.md, few-shot detection). Which branch
to trust is a property of the line (defect sizes, texture), and labelled defects
(``train/<defect>``, ``validation/<defect>``, the review workflow's confirmed defects)
are exactly what can tell.

So labelled defects choose one number, the local branch's weight ``w`` in
``max(w · z_local, z_global)``, from a short grid, by how well it separates the
held-out goods from the labelled defects at low false-reject rates: the partial area
under the ROC curve up to ``max_frr`` (5 %) of the held-out goods. The zero-shot
weight 1 is kept unless another weight separates strictly better, so without labelled
defects, or when they do not discriminate, nothing changes. Its place in the package is
the local branch's standardising scale (``std / w``): the graph, the map's ranking and
ONNX parity are untouched.

What was tried first and measured worse (docs/detection.md): a logistic layer on the
anomaly score and the distance to the nearest defect prototype (the region vector
alone separates goods from defects at AUROC 0.66–0.71, and with 5–25 labelled images
the layer weighted it as much as the score: recall 0.64 / 0.76 / 0.79 at k = 1 / 5 / 10
against 0.81 zero-shot); per-type discriminant directions in the global branch's
whitened space (AUROC 0.74–0.86 alone, lower recall in every combination).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lineguard.contracts.errors import InputError

__all__ = ["LOCAL_WEIGHTS", "BranchWeight", "fit_local_weight", "partial_auc"]

#: Weights of the local branch tried (1 = zero-shot). Never 0: the map is the local branch's.
LOCAL_WEIGHTS = (0.25, 0.35, 0.5, 0.7, 1.0, 1.4, 2.0)


@dataclass(frozen=True, slots=True)
class BranchWeight:
    """The chosen local weight and the evidence for it."""

    local: float
    #: Partial AUROC (held-out goods up to ``max_frr`` vs labelled defects), chosen and zero-shot.
    separation: float
    zero_shot_separation: float
    good_count: int
    defect_count: int
    max_frr: float

    @property
    def note(self) -> str:
        if self.defect_count == 0:
            return "local branch weight 1 (no labelled defects)"
        return (
            f"local branch weight {self.local:g}, chosen on {self.defect_count} labelled defects against "
            f"{self.good_count} held-out goods (partial AUROC to {self.max_frr:.0%} false rejects "
            f"{self.separation:.3f}; weight 1: {self.zero_shot_separation:.3f})"
        )


def partial_auc(good: np.ndarray, defects: np.ndarray, max_frr: float = 0.05) -> float:
    """Normalised partial AUROC up to ``max_frr`` of the goods: for each defect, how far below
    ``max_frr`` the share of goods scoring at least as high stays (1: every defect above every good)."""
    g, d = np.asarray(good, np.float64), np.asarray(defects, np.float64)
    if g.size == 0 or d.size == 0:
        msg = f"partial AUROC needs goods and defects, got {g.size} and {d.size}"
        raise InputError(msg)
    if not 0 < max_frr <= 1:
        msg = f"max_frr must be in (0, 1], got {max_frr}"
        raise InputError(msg)
    frr = (g[None, :] >= d[:, None]).mean(1)
    return float(np.mean(np.maximum(0.0, max_frr - frr)) / max_frr)


def fused(z_local: np.ndarray, z_global: np.ndarray, weight: float) -> np.ndarray:
    """The fused image score with the local branch weighted (``combine``'s maximum)."""
    out: np.ndarray = np.maximum(weight * np.asarray(z_local, np.float64), np.asarray(z_global, np.float64))
    return out


def fit_local_weight(
    good_local: np.ndarray,
    good_global: np.ndarray,
    defect_local: np.ndarray,
    defect_global: np.ndarray,
    *,
    max_frr: float = 0.05,
    weights: tuple[float, ...] = LOCAL_WEIGHTS,
) -> BranchWeight:
    """Local weight from standardised branch scores (z-scores, peaks of the local map) of the
    held-out goods and of the labelled defects; weight 1 when there are no defects."""
    arrays = [
        np.asarray(a, np.float64).ravel() for a in (good_local, good_global, defect_local, defect_global)
    ]
    if arrays[0].size != arrays[1].size or arrays[2].size != arrays[3].size:
        msg = (
            f"one local and one global score per image: goods {arrays[0].size} / {arrays[1].size}, "
            f"defects {arrays[2].size} / {arrays[3].size}"
        )
        raise InputError(msg)
    if not all(np.isfinite(a).all() for a in arrays):
        msg = "branch scores contain NaN or infinity"
        raise InputError(msg)
    gl, gg, dl, dg = arrays
    if dl.size == 0:
        return BranchWeight(1.0, float("nan"), float("nan"), int(gl.size), 0, max_frr)
    zero = partial_auc(fused(gl, gg, 1.0), fused(dl, dg, 1.0), max_frr)
    best, best_sep = 1.0, zero
    for w in weights:  # strictly better only: ties keep the zero-shot weight (or the first better one)
        sep = partial_auc(fused(gl, gg, w), fused(dl, dg, w), max_frr)
        if sep > best_sep + 1e-12:
            best, best_sep = w, sep
    return BranchWeight(best, best_sep, zero, int(gl.size), int(dl.size), max_frr)
