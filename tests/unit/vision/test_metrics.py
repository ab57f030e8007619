"""Metrics agree with their definitions on hand-checkable cases."""

from __future__ import annotations

import numpy as np
import pytest

from lineguard.contracts.errors import InputError
from lineguard.vision.metrics import AUPRO_MAX_FPR, aupro, auroc, recall_at_frr, roc_curve, stats_at_threshold


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


def test_aupro_perfect_and_random_maps() -> None:
    rng = np.random.default_rng(3)
    masks = np.zeros((6, 64, 64), bool)
    masks[0, 10:20, 10:30] = True
    masks[1, 40:44, 5:9] = True
    masks[2, 0:3, 60:64] = True
    perfect = np.where(masks, 2.0, rng.uniform(0, 1, masks.shape))
    assert aupro(masks, perfect) == pytest.approx(1.0)
    random = rng.uniform(0, 1, masks.shape)  # PRO equals FPR on average: area 0.3^2 / 2 / 0.3
    assert aupro(masks, random) == pytest.approx(AUPRO_MAX_FPR / 2, abs=0.02)


def test_aupro_by_hand() -> None:
    """Eight defect-free pixels 0.05 … 0.75, one region of two pixels 0.95 and 0.6.

    Below FPR 2/8 the threshold sits above 0.65: only 0.95 is caught (PRO 0.5); from FPR
    2/8 (threshold just above 0.55) both are (PRO 1). Area (0.25 · 0.5 + 0.05 · 1) / 0.3.
    """
    amap = np.array([[0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.95, 0.6]])
    mask = np.array([[False] * 8 + [True, True]])
    assert aupro(mask, amap, steps=30_001) == pytest.approx((0.25 * 0.5 + 0.05) / 0.3, abs=1e-4)


def test_aupro_counts_a_small_defect_as_much_as_a_large_one() -> None:
    rng = np.random.default_rng(4)
    masks = np.zeros((2, 64, 64), bool)
    masks[0, 8:40, 8:40] = True  # 1,024 pixels, found
    masks[1, 30:33, 30:33] = True  # 9 pixels, missed (below every good pixel)
    maps = rng.uniform(0, 1, masks.shape)
    maps[0][masks[0]] = 5.0
    maps[1][masks[1]] = -5.0
    assert aupro(masks, maps) == pytest.approx(0.5, abs=1e-3)
    assert auroc(masks.ravel(), maps.ravel()) > 0.99  # pixel AUROC barely notices the miss


def test_aupro_refuses_bad_input() -> None:
    maps = np.zeros((2, 8, 8))
    with pytest.raises(InputError, match="same shape"):
        aupro(np.zeros((2, 8, 9), bool), maps)
    with pytest.raises(InputError, match="defect regions"):
        aupro(np.zeros((2, 8, 8), bool), maps)
    with pytest.raises(InputError, match="NaN"):
        aupro(np.ones((2, 8, 8), bool), np.full((2, 8, 8), np.nan))
    with pytest.raises(InputError, match="max_fpr"):
        aupro(np.ones((2, 8, 8), bool), maps, max_fpr=0.0)
