"""Fitting named defect classes from a few labelled region vectors (training side).

Closed form, like the detector: prototypes are class means, the metric is Euclidean on
the unit-length region vectors (see ``_metric`` for why not a learnt covariance), and
the unknown cut-off
is chosen from the labelled examples themselves:

* with at least two examples in some class, each example's leave-one-out distance to
  its own class (a *known* defect) is set against its distance to the nearest *other*
  class (how far a defect of a type not in the package would be); the cut-off lies
  midway between the medians of the two (medians, because with a few examples per
  class the extremes are noise: a best split on them fitted the examples' own edge and
  rejected new examples of known types);
* with one example per class there is nothing to leave out: the cut-off is half the
  median distance between prototypes (the region closer to a prototype than to the
  midpoint towards the typical other one).

Deterministic: no sampling, no iteration.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from lineguard.contracts.errors import DatasetError
from lineguard.vision.classes import (
    MAX_CLASSES,
    DefectClassesSpec,
    DefectClassifier,
    main_region_mask,
    region_vector,
)
from lineguard.vision.scoring import Detector

__all__ = ["fit_classes", "labelled_vectors"]


def _metric(dim: int) -> np.ndarray:
    """Diagonal inverse variances of the shared metric: the identity (plain Euclidean on unit vectors).

    A pooled within-class covariance was tried first (Ledoit–Wolf shrunk): with a few
    examples per class and 128+ features it whitens exactly the directions the examples
    vary in, so the examples sit close to their prototypes and new ones of the same type
    do not (leave-one-out distances 0.19 against 0.6-1.0 for new images on the synthetic
    parts), and the cut-off rejected most known defects. The format keeps ``precision``
    for a metric learnt from many labelled examples.
    """
    return np.ones(dim)


def _cutoff(x: np.ndarray, labels: np.ndarray, spec_no_cut: DefectClassesSpec) -> tuple[float, str]:
    clf = DefectClassifier(spec_no_cut)
    dist = clf.distances(x)
    protos = np.asarray(spec_no_cut.prototypes)
    counts = np.bincount(labels, minlength=len(protos))
    known: list[float] = []
    unknown: list[float] = []
    for i, lab in enumerate(labels):
        others = np.delete(dist[i], lab)
        if others.size:
            unknown.append(float(others.min()))
        n = counts[lab]
        if n >= 2:
            loo = (protos[lab] * n - x[i]) / (n - 1)
            # |x - loo| under the shared metric, as the distance of the shifted point to prototype 0.
            known.append(float(clf.distances((x[i] - loo + protos[0])[None])[0, 0]))
    if known and unknown:
        k, u = float(np.median(known)), float(np.median(unknown))
        note = (
            f"midway between the median of {len(known)} leave-one-out own-class distances ({k:.3g}) "
            f"and the median of {len(unknown)} nearest-other-class distances ({u:.3g})"
        )
        return max((k + u) / 2, 1e-6), note
    if known:  # one class only: as far as its own examples reach
        return max(max(known), 1e-6), f"largest of {len(known)} leave-one-out own-class distances (one class)"
    between = clf.distances(protos)
    off = between[~np.eye(len(protos), dtype=bool)]
    if off.size == 0:
        msg = "named defect classes need at least two classes, or two examples of one"
        raise DatasetError(msg)
    return max(
        0.5 * float(np.median(off)), 1e-6
    ), "half the median distance between prototypes (one example per class)"


def fit_classes(vectors: np.ndarray, labels: Sequence[str]) -> DefectClassesSpec:
    """Region vectors [n, C] (from :func:`~lineguard.vision.classes.region_vector`) and their class names."""
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or len(x) != len(labels) or len(x) == 0:
        msg = f"need one region vector per label, got {x.shape} for {len(labels)} labels"
        raise DatasetError(msg)
    names = sorted(set(labels))
    if len(names) > MAX_CLASSES:
        msg = f"{len(names)} defect classes, at most {MAX_CLASSES} fit in a package"
        raise DatasetError(msg)
    idx = np.asarray([names.index(lab) for lab in labels])
    protos = np.stack([x[idx == i].mean(0) for i in range(len(names))])
    base = DefectClassesSpec(
        names=names,
        prototypes=protos.tolist(),
        inv_var=_metric(x.shape[1]).tolist(),
        cutoff=1.0,
        cutoff_method="unset",
        examples={n: int((idx == i).sum()) for i, n in enumerate(names)},
    )
    cutoff, how = _cutoff(x, idx, base)
    return base.model_copy(update={"cutoff": cutoff, "cutoff_method": how})


def labelled_vectors(detector: Detector, batch: np.ndarray, pixel_threshold: float) -> np.ndarray:
    """Region vectors [N, C] of labelled defect images (prepared input [N, 3, H, W]):
    each image's main region (:func:`~lineguard.vision.classes.main_region_mask`), cut
    with the package's region level ``pixel_threshold`` as the edge cuts regions."""
    with torch.no_grad():
        _, maps, feats = Detector(detector.backbone, detector.head, region_features=True)(
            torch.from_numpy(batch)
        )
    return np.stack(
        [
            region_vector(f, main_region_mask(m, pixel_threshold))
            for m, f in zip(maps.numpy(), feats.numpy(), strict=True)
        ]
    )
