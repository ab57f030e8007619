"""``bench/few_shot_global.py``: the defect-aware weights lift the directions labelled defects
use, keep the distance unchanged at weight 1, and score unseen defects of the same kind."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import few_shot_global as fsg

R = 12


def _groups(rng: np.random.Generator) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Whitened goods (unit variance); defects move direction 3 by 3 sd; a rest outside the basis."""
    white = {g: rng.standard_normal((n, R)) for g, n in (("hold", 60), ("test", 40), ("bad", 10))}
    white["bad"][:, 3] += 3.0 * np.sign(rng.standard_normal(10))
    glob = {g: np.sqrt((w**2).sum(1) + 4.0) for g, w in white.items()}  # rest ρ = 4
    return glob, white


def test_weights_lift_the_defects_direction_and_stay_capped() -> None:
    _, white = _groups(np.random.default_rng(0))
    a = fsg.direction_weights(white["hold"], white["bad"], cap=4.0, alpha=0.2)
    assert int(np.argmax(a)) == 3
    assert a.max() <= 4.0 and a.min() >= 0.0
    assert fsg.direction_weights(white["hold"], white["bad"], cap=4.0, alpha=1.0) == pytest.approx(np.ones(R))


def test_unit_weights_give_the_plain_distance() -> None:
    glob, white = _groups(np.random.default_rng(1))
    np.testing.assert_allclose(fsg.weighted_distance(glob["test"], white["test"], np.ones(R)), glob["test"])


def test_evidence_separates_unseen_defects_better_than_the_plain_distance() -> None:
    glob, white = _groups(np.random.default_rng(2))
    z, loo = fsg.global_evidence(glob, white, np.arange(6), cap=8.0, alpha=0.1)
    assert loo.shape == (6,)
    assert abs(float(z["hold"].mean())) < 1e-9
    unseen = z["bad"][6:]
    plain = (glob["bad"][6:] - glob["hold"].mean()) / glob["hold"].std()
    # the 4 defects the weights never saw stand further above the test goods than before
    gap_weighted = unseen.min() - np.quantile(z["test"], 0.9)
    gap_plain = plain.min() - np.quantile((glob["test"] - glob["hold"].mean()) / glob["hold"].std(), 0.9)
    assert gap_weighted > gap_plain
