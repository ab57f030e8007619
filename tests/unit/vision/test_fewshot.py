"""Few-shot fusion: labelled defects choose the fusion of the branches and the local weight (#24)."""

from __future__ import annotations

import numpy as np
import pytest

from lineguard.contracts.errors import InputError
from lineguard.vision.fewshot import CANDIDATES, ZERO_SHOT, fit_local_weight, fused, partial_auc


def test_partial_auc_counts_how_far_each_defect_stays_above_the_good_tail() -> None:
    good = np.arange(100, dtype=float)  # 0 … 99
    assert partial_auc(good, np.array([200.0, 300.0]), 0.05) == 1.0
    assert partial_auc(good, np.array([-1.0]), 0.05) == 0.0
    # 97.5: 2 of 100 goods score at least as high (FRR 0.02) → (0.05 − 0.02) / 0.05
    assert partial_auc(good, np.array([97.5]), 0.05) == pytest.approx(0.6)


def test_without_labelled_defects_the_zero_shot_weight_stays() -> None:
    rng = np.random.default_rng(0)
    w = fit_local_weight(rng.normal(size=50), rng.normal(size=50), [], [])
    assert (w.fusion, w.local) == ZERO_SHOT and w.defect_count == 0
    assert "no labelled defects" in w.note


def _goods(rng: np.random.Generator, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    return rng.normal(size=n), rng.normal(size=n)


def test_a_local_branch_that_raises_good_scores_is_weighed_down() -> None:
    """Goods with a heavy local tail, defects found by the global branch: weight < 1 separates better."""
    rng = np.random.default_rng(1)
    gl, gg = _goods(rng)
    gl[:6] = 4.0  # a few goods whose local peak is high (texture, dust)
    dl, dg = np.full(20, 2.0), rng.uniform(3.0, 6.0, 20)  # small local rise, clear global one
    w = fit_local_weight(gl, gg, dl, dg)
    assert w.local < 1.0 and (w.fusion, w.local) in CANDIDATES
    assert w.separation > w.zero_shot_separation
    assert partial_auc(fused(gl, gg, w.local, w.fusion), fused(dl, dg, w.local, w.fusion)) == pytest.approx(
        w.separation
    )
    assert f"weight {w.local:g}" in w.note and "20 labelled defects" in w.note


def test_defects_only_the_local_branch_sees_raise_or_keep_its_weight() -> None:
    rng = np.random.default_rng(2)
    gl, gg = _goods(rng)
    gg[:6] = 3.5  # goods the global branch dislikes
    dl, dg = rng.uniform(2.5, 3.5, 20), np.zeros(20)
    w = fit_local_weight(gl, gg, dl, dg)
    assert w.local > 1.0 and w.fusion == "sum"
    assert w.separation > w.zero_shot_separation


def test_ties_keep_the_zero_shot_weight() -> None:
    rng = np.random.default_rng(3)
    gl, gg = _goods(rng)
    w = fit_local_weight(gl, gg, np.full(5, 50.0), np.full(5, 50.0))  # every candidate separates perfectly
    assert (w.fusion, w.local) == ZERO_SHOT and w.separation == w.zero_shot_separation == 1.0


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (([0.0, 1.0], [0.0], [1.0], [1.0]), "one local and one global score per image"),
        (([0.0], [0.0], [1.0, 2.0], [1.0]), "one local and one global score per image"),
        (([0.0, np.nan], [0.0, 0.0], [1.0], [1.0]), "NaN or infinity"),
        (([], [], [1.0], [1.0]), "needs goods and defects"),
    ],
)
def test_bad_branch_scores_are_refused(args: tuple[list[float], ...], match: str) -> None:
    with pytest.raises(InputError, match=match):
        fit_local_weight(*(np.asarray(a) for a in args))


def test_bad_partial_auc_range_is_refused() -> None:
    with pytest.raises(InputError, match="max_frr"):
        partial_auc(np.zeros(3), np.ones(3), 0.0)


def test_fused_is_the_graphs_maximum_or_weighted_sum() -> None:
    zl, zg = np.array([2.0, -1.0, 0.5]), np.array([1.0, 0.5, 3.0])
    np.testing.assert_allclose(fused(zl, zg, 1.0), [2.0, 0.5, 3.0])
    np.testing.assert_allclose(fused(zl, zg, 0.5, "max"), [1.0, 0.5, 3.0])
    np.testing.assert_allclose(fused(zl, zg, 0.5, "sum"), [2.0, 0.0, 3.25])


def test_noise_on_both_branches_is_summed_away_where_the_maximum_keeps_it() -> None:
    """Goods whose local and global tails are different images (independent noise) and defects
    that rise a little in both: the sum separates them, the maximum lets either tail decide."""
    rng = np.random.default_rng(4)
    gl, gg = _goods(rng, 300)
    dl, dg = rng.normal(2.2, 0.3, 25), rng.normal(2.2, 0.3, 25)
    w = fit_local_weight(gl, gg, dl, dg)
    assert w.fusion == "sum" and w.separation > w.zero_shot_separation
    assert "z_local + z_global" in w.note


def test_the_choice_never_separates_the_labelled_defects_worse_than_zero_shot() -> None:
    """Over many random draws the chosen candidate's separation is at least zero-shot's (by construction:
    only a strictly better candidate replaces it), whatever the branches look like."""
    rng = np.random.default_rng(5)
    for _ in range(50):
        gl, gg = rng.normal(size=(2, 100)) * rng.uniform(0.5, 2.0, (2, 1))
        dl, dg = rng.normal(rng.uniform(-1, 3, (2, 1)), 1.0, (2, 10))
        w = fit_local_weight(gl, gg, dl, dg)
        zero = partial_auc(fused(gl, gg, 1.0), fused(dl, dg, 1.0))
        assert w.zero_shot_separation == pytest.approx(zero)
        assert w.separation >= zero
