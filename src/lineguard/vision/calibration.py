"""Choosing the image-score threshold a package ships with.

Two regimes:

* **Good images only** (the usual case on a new line): the threshold is the
  ``1 - target_frr`` quantile of held-out good scores, so about ``target_frr`` of good
  parts would be rejected. With fewer than ``1 / target_frr`` held-out images the data
  cannot show that quantile: by default (``small_sample="max"``) the threshold is then
  their maximum — about the ``1 - 1 / (n + 1)`` quantile, i.e. 8 % false rejects with 12
  images where 1 % was asked for — and the metadata says so; ``small_sample="tail"``
  extrapolates a Gaussian tail fitted to them instead (:func:`gaussian_tail_threshold`).
* **Labelled defects available**: the threshold maximises F1 (or reaches a recall
  target) on the validation set, but only among thresholds whose false-reject rate on
  the validation goods stays within ``max_frr``; or, when the quality engineer set a
  false-reject goal (``objective="frr"``), it is the goods' quantile as above and the
  defects only measure the recall that goal buys (with its interval).

Either way the threshold is never below every good score: a validation set without
defects cannot pull it down to "flag everything" (the anomalib failure where an
adaptive F1 threshold on good-only data rejects every part).
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist
from typing import Literal

import numpy as np

from lineguard.contracts.errors import InputError
from lineguard.vision.metrics import stats_at_threshold
from lineguard.vision.package import ThresholdSpec

__all__ = [
    "SmallSample",
    "calibrate_threshold",
    "describe_operating_point",
    "gaussian_tail_threshold",
    "new_part_frr_bound",
    "student_t_quantile",
    "wilson_interval",
]

#: What the threshold is when there are too few held-out goods to show the target quantile.
SmallSample = Literal["max", "tail"]

#: Two-sided 95 % normal quantile for the Wilson intervals.
_Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = _Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``successes / n`` (95 % by default).

    Chosen over the normal approximation because the rates that matter here sit near 0
    (false rejects) or 1 (recall) on small validation sets, where the normal interval
    collapses to zero width or leaves [0, 1]; Wilson stays inside and honest there.
    """
    if n <= 0 or not 0 <= successes <= n:
        msg = f"a proportion needs 0 <= successes <= n and n > 0, got {successes} of {n}"
        raise InputError(msg)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, float(centre - half)), min(1.0, float(centre + half)))


def student_t_quantile(p: float, dof: int) -> float:
    """The ``p`` quantile of Student's t with ``dof`` degrees of freedom (0.5 <= p < 1).

    The Cornish–Fisher expansion in 1 / dof around the normal quantile (Abramowitz &
    Stegun 26.7.5, four terms): no SciPy on the edge; within 1 % of the exact value for
    dof >= 3 at p <= 0.995 (tested against tabulated values)."""
    if not 0.5 <= p < 1 or dof < 1:
        msg = f"a t quantile needs 0.5 <= p < 1 and dof >= 1, got p {p}, dof {dof}"
        raise InputError(msg)
    z = NormalDist().inv_cdf(p)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return float(z + g1 / dof + g2 / dof**2 + g3 / dof**3 + g4 / dof**4)


def gaussian_tail_threshold(good: np.ndarray, target_frr: float) -> float:
    """The ``1 - target_frr`` quantile of a new good score, from few held-out goods.

    A Gaussian fitted to the ``n`` scores and the upper prediction bound of one more
    draw, ``mean + t(1 - target_frr, n - 1) · sd · sqrt(1 + 1/n)``: the t quantile and the
    ``sqrt(1 + 1/n)`` account for mean and sd being estimated from the same ``n`` images,
    so with 12 images and 1 % it sits 2.83 sd above their mean (the maximum of 12 is
    about 1.6 sd above). Never below the highest held-out score. The fused score is the
    maximum of two standardised branches, so its upper tail is, if anything, heavier than
    a Gaussian's: this is a floor on the honest quantile, not a guarantee (#24 seventh
    session measures what it does to false rejects and recall on the suite)."""
    n = int(good.size)
    if n < 2:
        return float(good.max())
    k = student_t_quantile(1 - target_frr, n - 1) * float(np.sqrt(1 + 1 / n))
    return max(float(good.max()), float(good.mean() + k * good.std(ddof=1)))


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def _expected(what: str, rate: float, ci: tuple[float, float] | None, basis: str) -> str:
    interval = f", 95 % CI {_pct(ci[0])}–{_pct(ci[1])}" if ci else ""
    return f"expected {what} {_pct(rate)}{interval} ({basis})"


def new_part_frr_bound(spec: ThresholdSpec) -> float | None:
    """The false-reject rate a *new* good part can expect, at most, from a threshold set on
    the held-out goods themselves: ``(r + 1) / (n + 1)`` with ``r`` of ``n`` goods above it.

    The rate measured on the goods that chose the threshold is optimistic by construction
    (the maximum of 12 goods rejects none of them, yet a 13th good part lands above all 12
    one time in 13). For exchangeable scores a threshold at or above the ``(n - r)``-th
    smallest good score is exceeded by a new good one with probability at most
    ``(r + 1) / (n + 1)``, whatever their distribution: exact for the goods' quantile, an
    upper bound for the Gaussian tail (never below the highest good). Only for
    ``good_quantile``: there ``r`` is fixed by ``n`` and the goal, while a labelled
    threshold's ``r`` depends on the defects too and the bound would not hold as stated."""
    n = spec.validation_good_count
    if spec.method != "good_quantile" or spec.validation_frr is None or n < 1:
        return None
    rejected = round(spec.validation_frr * n)
    return (rejected + 1) / (n + 1)


def describe_operating_point(spec: ThresholdSpec) -> str:
    """The operating point in a quality engineer's words: the goal, then what validation says
    about both rates with their 95 % intervals (or that a rate could not be measured)."""
    parts = [spec.goal or spec.note]
    if spec.validation_frr is not None:
        basis = f"{spec.validation_good_count} good images"
        parts.append(_expected("false rejects", spec.validation_frr, spec.validation_frr_ci, basis))
        bound = new_part_frr_bound(spec)
        if bound is not None:
            parts.append(f"on new good parts at most {_pct(bound)} false rejects (distribution-free)")
    if spec.validation_recall is not None:
        basis = f"{spec.validation_defect_count} defects"
        parts.append(_expected("recall", spec.validation_recall, spec.validation_recall_ci, basis))
    else:
        parts.append("recall not measured (no labelled defects)")
    return "; ".join(parts)


def _as_scores(values: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if not np.isfinite(arr).all():
        msg = f"{what} scores contain NaN or infinity"
        raise InputError(msg)
    return arr


def calibrate_threshold(
    good_scores: Sequence[float] | np.ndarray,
    defect_scores: Sequence[float] | np.ndarray | None = None,
    *,
    target_frr: float = 0.01,
    max_frr: float = 0.05,
    objective: Literal["f1", "recall", "frr"] = "f1",
    min_recall: float = 0.95,
    small_sample: SmallSample = "max",
) -> ThresholdSpec:
    """Threshold from validation scores (higher = more anomalous; fail when score > threshold)."""
    if not 0 <= target_frr < 1 or not 0 <= max_frr < 1:
        msg = f"false-reject rates must be in [0, 1), got target {target_frr}, max {max_frr}"
        raise InputError(msg)
    good = _as_scores(good_scores, "good")
    defects = _as_scores(defect_scores if defect_scores is not None else [], "defect")
    if good.size == 0:
        msg = "threshold calibration needs at least one held-out good image"
        raise InputError(msg)
    if small_sample not in ("max", "tail"):
        msg = f"small_sample must be 'max' or 'tail', got {small_sample!r}"
        raise InputError(msg)
    if defects.size == 0 or objective == "frr":
        value = float(np.quantile(good, 1 - target_frr, method="higher"))
        small = good.size * target_frr < 1
        note = (
            f"maximum of {good.size} held-out good scores (too few to estimate a {target_frr:.1%} quantile)"
            if small
            else f"{1 - target_frr:.1%} quantile of {good.size} held-out good scores"
        )
        if small and small_sample == "tail" and good.size >= 2:
            value = gaussian_tail_threshold(good, target_frr)
            note = (
                f"{1 - target_frr:.1%} quantile of a Gaussian tail fitted to {good.size} held-out good "
                f"scores (too few to observe it)"
            )
        rejected = int((good > value).sum())
        spec = ThresholdSpec(
            value=value,
            method="good_quantile",
            target_frr=target_frr,
            validation_good_count=int(good.size),
            validation_frr=rejected / good.size,
            validation_frr_ci=wilson_interval(rejected, int(good.size)),
            goal=f"at most {_pct(target_frr)} false rejects",
            note=note,
        )
        if defects.size == 0:
            return spec
        caught = int((defects > value).sum())  # the recall the false-reject goal buys
        return spec.model_copy(
            update={
                "validation_defect_count": int(defects.size),
                "validation_recall": caught / defects.size,
                "validation_recall_ci": wilson_interval(caught, int(defects.size)),
            }
        )
    labels = np.r_[np.zeros(good.size), np.ones(defects.size)]
    scores = np.r_[good, defects]
    # Candidate thresholds: every distinct score, each meaning "fail above this value".
    candidates = np.unique(scores)
    floor = float(np.quantile(good, 1 - max_frr, method="higher"))  # FRR cap
    candidates = candidates[candidates >= floor]
    stats = [stats_at_threshold(labels, scores, float(t)) for t in candidates]
    if objective == "recall":
        reaching = [s for s in stats if s.recall >= min_recall]
        best = max(reaching, key=lambda s: s.threshold) if reaching else min(stats, key=lambda s: s.threshold)
        method: Literal["labelled_f1", "labelled_recall"] = "labelled_recall"
        note = f"highest threshold reaching recall {min_recall:.0%} with FRR <= {max_frr:.0%}"
        goal = f"at least {_pct(min_recall)} recall"
        goal += "" if reaching else " (not reachable: lowest threshold)"
    else:
        best = max(stats, key=lambda s: (s.f1, s.threshold))
        method = "labelled_f1"
        note = f"maximum F1 with FRR <= {max_frr:.0%} on validation goods"
        goal = f"best F1 with at most {_pct(max_frr)} false rejects"
    rejected = int((good > best.threshold).sum())
    caught = int((defects > best.threshold).sum())
    return ThresholdSpec(
        value=float(best.threshold),
        method=method,
        target_frr=max_frr,
        validation_good_count=int(good.size),
        validation_defect_count=int(defects.size),
        validation_frr=float(best.frr),
        validation_recall=float(best.recall),
        validation_frr_ci=wilson_interval(rejected, int(good.size)),
        validation_recall_ci=wilson_interval(caught, int(defects.size)),
        goal=goal,
        note=note,
    )
