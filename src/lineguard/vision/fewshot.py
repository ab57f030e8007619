"""Few-shot use of labelled defects: how the two branches are fused, and how much the local one weighs.

The zero-shot image score is ``max(z_local, z_global)``, each branch standardised on
held-out good images (``scoring.LocalGlobalHead.combine``). On magnetic tile that fusion
loses recall at the operating point to the *local* branch: its peaks on good tiles are
among the highest good scores, so they set the 1 % false-reject threshold (docs/detection.md,
few-shot detection). Which branch to trust, and how, is a property of the line (defect
sizes, texture), and labelled defects (``train/<defect>``, ``validation/<defect>``, the
review workflow's confirmed defects) are exactly what can tell.

So labelled defects choose one of a short list of fusions (:data:`CANDIDATES`): the
zero-shot ``max(z_local, z_global)``, or the weighted sum ``w · z_local + z_global``
for a few weights ``w``, by how well each separates the
held-out goods from the labelled defects at low false-reject rates: the partial area
under the ROC curve up to ``max_frr`` (5 %) of the held-out goods. The zero-shot fusion
is kept unless another separates strictly better, so without labelled defects, or when
they do not discriminate, nothing changes. In the package a weighted sum is the head's
``score_weight``: the graph's image score becomes ``w · peak z_local + z_global`` while its
map stays the zero-shot maximum's lifted map (the sum's map, ``w · z_local + z_global``,
lifts every pixel of an image by its global z-score: on magnetic tile AUPRO 0.49 against
0.80 end to end), so localisation, the edge's regions and the region level are those of
the zero-shot package; ONNX parity is checked as for every package.

Why the sum (#24, sixth session; ``bench/bench_few_shot.py`` on the suite with the
σ 2.5 low-passed global branch): with 5 labelled defects per type magnetic tile's recall
at 1 % false rejects went 0.784 → 0.852 (4 splits × 10 draws; the earlier weighted
maximum ``max(w · z_local, z_global)``: 0.817, below zero-shot in 9 of 40 draws by up to
0.041; the sum in 2, by up to 0.030), the synthetic sets stay within one defect of
zero-shot. A weighted sum keeps both branches' evidence for every image, where the
maximum lets one branch's noise decide alone.

What was tried first and measured worse (docs/detection.md): a logistic layer on the
anomaly score and the distance to the nearest defect prototype (the region vector
alone separates goods from defects at AUROC 0.66–0.71, and with 5–25 labelled images
the layer weighted it as much as the score: recall 0.64 / 0.76 / 0.79 at k = 1 / 5 / 10
against 0.81 zero-shot); per-type discriminant directions in the global branch's
whitened space (AUROC 0.74–0.86 alone, lower recall in every combination); the
weighted maximum alone (shipped in the fifth session, see above).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from lineguard.contracts.errors import InputError

__all__ = ["CANDIDATES", "ZERO_SHOT", "BranchWeight", "fit_local_weight", "fused", "partial_auc"]

FewShotFusion = Literal["max", "sum"]
#: The zero-shot fusion: ``max(z_local, z_global)``.
ZERO_SHOT: tuple[FewShotFusion, float] = ("max", 1.0)
#: (fusion, local weight) pairs labelled defects choose from, the zero-shot one first.
#: Never weight 0: the map is the local branch's.
CANDIDATES: tuple[tuple[FewShotFusion, float], ...] = (
    ZERO_SHOT,
    ("sum", 0.1),
    ("sum", 0.25),
    ("sum", 0.5),
    ("sum", 1.0),
    ("sum", 2.0),
)


@dataclass(frozen=True, slots=True)
class BranchWeight:
    """The chosen fusion and local weight, and the evidence for them."""

    local: float
    fusion: FewShotFusion
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
        rule = "max(z_local, z_global)" if self.fusion == "max" else f"{self.local:g} * z_local + z_global"
        return (
            f"fused score {rule} (local branch weight {self.local:g}), chosen on {self.defect_count} "
            "labelled defects against "
            f"{self.good_count} held-out goods (partial AUROC to {self.max_frr:.0%} false rejects "
            f"{self.separation:.3f}; zero-shot max: {self.zero_shot_separation:.3f})"
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


def fused(
    z_local: np.ndarray, z_global: np.ndarray, weight: float, fusion: FewShotFusion = "max"
) -> np.ndarray:
    """The image score ``combine`` computes from the branches' z-scores (peak of the local map)
    with the local branch weighted: their maximum, or their sum."""
    zl, zg = weight * np.asarray(z_local, np.float64), np.asarray(z_global, np.float64)
    out: np.ndarray = np.maximum(zl, zg) if fusion == "max" else zl + zg
    return out


def fit_local_weight(
    good_local: np.ndarray,
    good_global: np.ndarray,
    defect_local: np.ndarray,
    defect_global: np.ndarray,
    *,
    max_frr: float = 0.05,
    candidates: tuple[tuple[FewShotFusion, float], ...] = CANDIDATES,
) -> BranchWeight:
    """Fusion and local weight from standardised branch scores (z-scores, peaks of the local
    map) of the held-out goods and of the labelled defects; zero-shot without defects."""
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
        return BranchWeight(1.0, "max", float("nan"), float("nan"), int(gl.size), 0, max_frr)
    zero = partial_auc(
        fused(gl, gg, ZERO_SHOT[1], ZERO_SHOT[0]), fused(dl, dg, ZERO_SHOT[1], ZERO_SHOT[0]), max_frr
    )
    best, best_sep = ZERO_SHOT, zero
    for fusion, w in candidates:  # strictly better only: ties keep zero-shot (or the first better one)
        sep = partial_auc(fused(gl, gg, w, fusion), fused(dl, dg, w, fusion), max_frr)
        if sep > best_sep + 1e-12:
            best, best_sep = (fusion, w), sep
    return BranchWeight(best[1], best[0], best_sep, zero, int(gl.size), int(dl.size), max_frr)
