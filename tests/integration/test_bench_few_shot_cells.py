"""``bench/few_shot_cells.py``: the nearest labelled defect patch and the logistic layer find
defect cells the fit never saw, stay out of sample on the held-out goods, and refuse an unknown kind."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from tests.support.patch_data import SIDE, C, lifted_block_data

import few_shot_cells as fsc


def test_defect_cells_keep_the_most_anomalous_covered_cells() -> None:
    pd = lifted_block_data(np.random.default_rng(0))
    cells = fsc.defect_cells(pd, np.array([0, 1]), cap=3)
    assert cells.shape == (6, C)
    assert (cells[:, 3] > 2).all()  # inside the mask, where channel 3 is lifted


def test_a_prototype_scores_its_own_cell_by_the_likelihood_ratio() -> None:
    pd = lifted_block_data(np.random.default_rng(1))
    proj = fsc.fit_proto(pd, np.array([0]), cap=1)
    d = proj.basis[:, 0]
    cell = np.zeros((1, SIDE * SIDE, C), np.float16)
    cell[0, 0] = d.astype(np.float16)
    m = proj.maps(cell)
    # at the prototype itself: |d|² − 0; at the goods' centre: −|d|²
    assert float(m[0, 0, 0]) == pytest.approx(float(d @ d), rel=1e-2)
    assert float(m[0, 0, 1]) == pytest.approx(-float(d @ d), rel=1e-2)


@pytest.mark.parametrize(("kind", "rank", "alpha"), [("proto", 4, 0.0), ("logit", 2, 0.1)])
def test_evidence_finds_unseen_defects(kind: str, rank: int, alpha: float) -> None:
    pd = lifted_block_data(np.random.default_rng(2))
    z, loo = fsc.cell_evidence(pd, np.arange(4), kind, rank, alpha, sigma=1.0)
    assert z["bad"][4:].min() > z["test"].max()  # the two defects the fit never saw
    assert loo.shape == (4,)
    assert loo.min() > z["hold"].max()
    assert abs(float(z["hold"].mean())) < 1e-9  # standardised on the held-out goods


def test_the_logistic_layer_weights_the_defect_channel() -> None:
    pd = lifted_block_data(np.random.default_rng(3))
    neg = fsc.good_negatives(pd.resid["hold"], hard=2)
    assert neg.shape == (min(fsc.RANDOM_NEGATIVES, 40 * SIDE * SIDE) + 40 * 2, C)
    layer = fsc.fit_logit(fsc.defect_cells(pd, np.arange(6), cap=64), neg, alpha=0.1)
    w = layer.basis[:C, 0]
    assert int(np.argmax(np.abs(w))) == 3
    assert w[3] > 0


def test_an_unknown_kind_is_refused() -> None:
    pd = lifted_block_data(np.random.default_rng(4))
    with pytest.raises(ValueError, match="unknown cell evidence"):
        fsc.cell_evidence(pd, np.arange(2), "svm", 1, 0.1)
