"""Train the PPE classifier on generated people: logistic regression per item, in numpy.

Deterministic (fixed seeds, full-batch Newton steps, no random initialisation): the same
arguments give the same weights on every machine up to floating-point rounding. Run by
``python -m lineguard.edge.ppe.train`` to rewrite the shipped model file; the unit test
retrains a smaller model and checks it matches the shipped one's behaviour.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lineguard.contracts.ppe import PPE_ITEMS
from lineguard.edge.ppe.features import FEATURE_COUNT, FEATURE_VERSION, crop_person, features
from lineguard.edge.ppe.render import PersonCrop, person_crops

__all__ = ["TRAIN_COUNT", "TRAIN_SEED", "crop_matrix", "fit_logistic", "train_model"]

TRAIN_SEED = 1801
TRAIN_COUNT = 3200
L2 = 1.0


def _jitter(rng: np.random.Generator, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The box as a detector might give it: edges off by up to 5 % of its size."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    d = rng.uniform(-0.05, 0.05, 4)
    return (int(x0 + d[0] * w), int(y0 + d[1] * h), int(x1 + d[2] * w), int(y1 + d[3] * h))


def crop_matrix(crops: list[PersonCrop], *, jitter_seed: int | None = None) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(jitter_seed) if jitter_seed is not None else None
    rows = []
    for c in crops:
        box = _jitter(rng, c.box) if rng is not None else c.box
        rows.append(features(crop_person(c.image, box)))
    return np.stack(rows) if rows else np.zeros((0, FEATURE_COUNT), np.float32)


def fit_logistic(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], *, l2: float = L2
) -> npt.NDArray[np.float64]:
    """Weights (bias last) of an L2-regularised logistic regression, by Newton's method."""
    design = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(30):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ w, -40, 40)))
        grad = design.T @ (p - y) + penalty * w
        hess = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return w


def train_model(*, count: int = TRAIN_COUNT, seed: int = TRAIN_SEED) -> dict[str, Any]:
    """The model document: feature scaling, one weight vector per item, and its provenance."""
    crops = person_crops(count, seed=seed)
    x = crop_matrix(crops, jitter_seed=seed + 1).astype(np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / std
    labels = {"helmet": [c.helmet for c in crops], "hi_vis_vest": [c.vest for c in crops]}
    weights = {item: fit_logistic(z, np.asarray(labels[item], np.float64)) for item in PPE_ITEMS}
    return {
        "format": "lineguard-ppe-logreg",
        "feature_version": FEATURE_VERSION,
        "items": list(PPE_ITEMS),
        "mean": [round(float(v), 7) for v in mean],
        "std": [round(float(v), 7) for v in std],
        "weights": {k: [round(float(v), 7) for v in w] for k, w in weights.items()},
        "threshold": 0.5,
        "trained_on": {
            "generator": "lineguard.edge.ppe.render.person_crops",
            "count": count,
            "seed": seed,
            "box_jitter": 0.05,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=TRAIN_COUNT)
    parser.add_argument("--seed", type=int, default=TRAIN_SEED)
    args = parser.parse_args(argv)
    text = json.dumps(train_model(count=args.count, seed=args.seed), indent=1, sort_keys=True) + "\n"
    args.out.write_text(text, encoding="utf-8")
    sys.stdout.write(f"{args.out}: sha256 {hashlib.sha256(text.encode()).hexdigest()}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
