"""Metrics agree with their definitions on hand-checkable cases."""

from __future__ import annotations

import numpy as np
import pytest

from lineguard.contracts.errors import InputError
from lineguard.vision.metrics import auroc, recall_at_frr, roc_curve, stats_at_threshold


def test_auroc_perfect_random_and_ties() -> None:
    assert auroc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert auroc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert auroc([0, 1], [0.5, 0.5]) == 0.5


def test_auroc_matches_pairwise_definition() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.normal(size=300) + y, 1)  # rounding makes ties
    pos, neg = s[y == 1], s[y == 0]
    pairwise = ((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (
        pos.size * neg.size
    )
    assert auroc(y, s) == pytest.approx(pairwise)
    fpr, tpr, _ = roc_curve(y, s)
    assert np.trapezoid(tpr, fpr) == pytest.approx(pairwise)


def test_recall_at_frr_and_threshold_stats() -> None:
    y = [0] * 100 + [1] * 10
    s = list(range(100)) + [97.5] * 5 + [200] * 5
    assert recall_at_frr(y, s, 0.01) == 0.5  # catching the 97.5s rejects goods 98 and 99: 2%
    stats = stats_at_threshold(y, s, 97.0)
    assert (stats.true_positives, stats.false_positives) == (10, 2)
    assert stats.frr == pytest.approx(0.02)
    assert stats.f1 == pytest.approx(2 * (10 / 12) * 1.0 / (10 / 12 + 1.0))


def test_one_class_only_is_an_error() -> None:
    with pytest.raises(InputError, match="both classes"):
        auroc([0, 0], [0.1, 0.2])
