"""Choosing the image-score threshold a package ships with.

Two regimes:

* **Good images only** (the usual case on a new line): the threshold is the
  ``1 - target_frr`` quantile of held-out good scores, so about ``target_frr`` of good
  parts would be rejected. With fewer than ``1 / target_frr`` held-out images this is
  simply their maximum, and the metadata says so.
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
from typing import Literal

import numpy as np

from lineguard.contracts.errors import InputError
from lineguard.vision.metrics import stats_at_threshold
from lineguard.vision.package import ThresholdSpec

__all__ = ["calibrate_threshold", "describe_operating_point", "wilson_interval"]

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


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def _expected(what: str, rate: float, ci: tuple[float, float] | None, basis: str) -> str:
    interval = f", 95 % CI {_pct(ci[0])}–{_pct(ci[1])}" if ci else ""
    return f"expected {what} {_pct(rate)}{interval} ({basis})"


def describe_operating_point(spec: ThresholdSpec) -> str:
    """The operating point in a quality engineer's words: the goal, then what validation says
    about both rates with their 95 % intervals (or that a rate could not be measured)."""
    parts = [spec.goal or spec.note]
    if spec.validation_frr is not None:
        basis = f"{spec.validation_good_count} good images"
        parts.append(_expected("false rejects", spec.validation_frr, spec.validation_frr_ci, basis))
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
    if defects.size == 0 or objective == "frr":
        value = float(np.quantile(good, 1 - target_frr, method="higher"))
        small = good.size * target_frr < 1
        note = (
            f"maximum of {good.size} held-out good scores (too few to estimate a {target_frr:.1%} quantile)"
            if small
            else f"{1 - target_frr:.1%} quantile of {good.size} held-out good scores"
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
