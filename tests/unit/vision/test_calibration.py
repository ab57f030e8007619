"""Threshold calibration: good-only quantiles, labelled defects, and never 'flag everything'."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from lineguard.contracts.errors import InputError
from lineguard.vision.calibration import (
    calibrate_threshold,
    describe_operating_point,
    gaussian_tail_threshold,
    new_part_frr_bound,
    student_t_quantile,
    wilson_interval,
)
from lineguard.vision.train import TrainConfig, train_package


def test_good_only_threshold_is_the_target_quantile() -> None:
    good = np.arange(1000, dtype=float)
    spec = calibrate_threshold(good, target_frr=0.01)
    assert spec.method == "good_quantile"
    assert spec.value == 990.0
    assert spec.validation_frr == pytest.approx(0.009)
    assert spec.validation_good_count == 1000


def test_few_good_images_give_their_maximum_and_say_so() -> None:
    spec = calibrate_threshold([0.1, 0.5, 0.3], target_frr=0.01)
    assert spec.value == 0.5
    assert "maximum of 3" in spec.note


@pytest.mark.parametrize(
    ("p", "dof", "table"),
    # Student's t quantiles as tabulated (e.g. Abramowitz & Stegun table 26.10)
    [
        (0.99, 3, 4.541),
        (0.99, 4, 3.747),
        (0.99, 11, 2.718),
        (0.99, 30, 2.457),
        (0.975, 10, 2.228),
        (0.995, 20, 2.845),
    ],
)
def test_t_quantile_matches_the_tables_within_one_percent(p: float, dof: int, table: float) -> None:
    assert student_t_quantile(p, dof) == pytest.approx(table, rel=0.01)


def test_tail_threshold_is_the_prediction_bound_of_a_fitted_gaussian() -> None:
    good = np.array([-1.0, 0.0, 1.0, -0.5, 0.5, 0.2, -0.2, 0.8, -0.8, 0.1, -0.1, 0.0])
    expected = good.mean() + student_t_quantile(0.99, 11) * good.std(ddof=1) * np.sqrt(1 + 1 / 12)
    assert gaussian_tail_threshold(good, 0.01) == pytest.approx(expected)
    assert gaussian_tail_threshold(good, 0.01) > good.max()


def test_tail_threshold_is_never_below_the_highest_held_out_score() -> None:
    good = np.array([0.0, 0.0, 0.0, 0.0, 100.0])  # one outlier: the fitted tail would sit below it
    assert gaussian_tail_threshold(good, 0.2) == 100.0


def test_small_sample_tail_replaces_the_maximum_only_when_the_quantile_cannot_be_observed() -> None:
    rng = np.random.default_rng(3)
    few = rng.normal(size=12)
    spec = calibrate_threshold(few, target_frr=0.01, small_sample="tail")
    assert spec.value == pytest.approx(gaussian_tail_threshold(few, 0.01))
    assert spec.value > few.max()
    assert "Gaussian tail fitted to 12" in spec.note
    assert spec.validation_frr == 0.0
    many = rng.normal(size=500)  # 1 % of 500 can be observed: the empirical quantile, as before
    assert (
        calibrate_threshold(many, target_frr=0.01, small_sample="tail").value
        == calibrate_threshold(many, target_frr=0.01).value
    )


def test_a_tail_threshold_holds_its_false_reject_goal_where_the_maximum_does_not() -> None:
    """Gaussian goods, 12 held out: the maximum rejects ~1/13 of new goods, the tail ~1 %."""
    rng = np.random.default_rng(24)
    new_goods = rng.normal(size=200_000)
    frr = {"max": [], "tail": []}
    for _ in range(400):
        held = rng.normal(size=12)
        for rule in frr:
            th = calibrate_threshold(held, target_frr=0.01, small_sample=rule).value  # type: ignore[arg-type]
            frr[rule].append(float((new_goods > th).mean()))
    assert np.mean(frr["max"]) == pytest.approx(1 / 13, rel=0.15)
    assert np.mean(frr["tail"]) == pytest.approx(0.01, rel=0.3)


def test_an_unknown_small_sample_rule_is_refused() -> None:
    with pytest.raises(InputError, match="small_sample"):
        calibrate_threshold([0.1, 0.2], small_sample="median")  # type: ignore[arg-type]


@pytest.mark.parametrize("defects", [None, []])
def test_validation_without_defects_never_flags_every_good_part(defects: list[float] | None) -> None:
    """The anomalib failure: an F1-optimal threshold on good-only data sits below every score."""
    rng = np.random.default_rng(0)
    good = rng.normal(size=200)
    spec = calibrate_threshold(good, defects)
    assert spec.value >= np.quantile(good, 0.98)
    assert (good > spec.value).mean() <= 0.01


def test_labelled_defects_maximise_f1_within_the_frr_cap() -> None:
    good = np.linspace(0, 1, 101)
    defects = np.linspace(0.9, 2.0, 50)
    spec = calibrate_threshold(good, defects, max_frr=0.05)
    assert spec.method == "labelled_f1"
    assert spec.validation_frr is not None and spec.validation_frr <= 0.05
    assert spec.validation_defect_count == 50
    assert spec.value >= np.quantile(good, 0.95, method="higher")


def test_labelled_defects_all_below_goods_still_respect_the_cap() -> None:
    good = np.linspace(1, 2, 100)
    defects = np.linspace(0, 0.5, 20)  # a useless model: defects score lower
    spec = calibrate_threshold(good, defects, max_frr=0.05)
    assert (good > spec.value).mean() <= 0.05


def test_recall_objective_meets_the_target_when_possible() -> None:
    good = np.linspace(0, 1, 101)
    defects = np.linspace(0.5, 3, 40)
    spec = calibrate_threshold(good, defects, objective="recall", min_recall=0.8, max_frr=0.2)
    assert spec.method == "labelled_recall"
    assert spec.validation_recall is not None and spec.validation_recall >= 0.8


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(InputError, match="at least one held-out good image"):
        calibrate_threshold([])
    with pytest.raises(InputError, match="NaN"):
        calibrate_threshold([0.1, float("nan")])


# -- the operating point in a quality engineer's terms ---------------------------------------


def test_wilson_interval_matches_published_values_and_stays_inside_zero_one() -> None:
    # Newcombe (1998), table I: 81 of 263 → 0.2553–0.3662; 0 of 10 → 0–0.2775; 15 of 148.
    assert wilson_interval(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(15, 148) == pytest.approx((0.0624, 0.1605), abs=1e-4)
    low, high = wilson_interval(20, 20)
    assert 0.8 < low < 1.0 and high == 1.0


def test_a_false_reject_goal_reports_its_rate_with_an_interval_and_no_recall() -> None:
    spec = calibrate_threshold(np.arange(200, dtype=float), target_frr=0.02)
    assert spec.goal == "at most 2.0 % false rejects"
    assert spec.validation_frr_ci is not None
    low, high = spec.validation_frr_ci
    assert spec.validation_frr is not None and low <= spec.validation_frr <= high
    text = describe_operating_point(spec)
    assert text.startswith("at most 2.0 % false rejects; expected false rejects 1.5 %, 95 % CI")
    assert "(200 good images)" in text and "recall not measured (no labelled defects)" in text


def test_a_recall_goal_reports_the_false_rejects_it_costs_with_intervals() -> None:
    good = np.linspace(0, 1, 101)
    defects = np.linspace(0.5, 3, 40)
    spec = calibrate_threshold(good, defects, objective="recall", min_recall=0.9, max_frr=0.999)
    assert spec.goal == "at least 90.0 % recall"
    caught = int((defects > spec.value).sum())
    assert spec.validation_recall == pytest.approx(caught / 40) and spec.validation_recall >= 0.9
    assert spec.validation_recall_ci == pytest.approx(wilson_interval(caught, 40))
    assert spec.validation_frr_ci == pytest.approx(wilson_interval(int((good > spec.value).sum()), 101))
    text = describe_operating_point(spec)
    assert "expected recall" in text and "(40 defects)" in text and "expected false rejects" in text


def test_a_false_reject_goal_with_labelled_defects_keeps_the_goal_and_reports_recall() -> None:
    """ "At most 2 % false rejects" stays the goods' quantile when defects exist (not the best F1);
    the defects only say what recall that buys, with its interval."""
    good = np.arange(200, dtype=float)
    defects = np.linspace(150, 400, 50)
    spec = calibrate_threshold(good, defects, target_frr=0.02, objective="frr")
    assert spec.value == calibrate_threshold(good, target_frr=0.02).value
    assert spec.method == "good_quantile" and spec.goal == "at most 2.0 % false rejects"
    caught = int((defects > spec.value).sum())
    assert spec.validation_defect_count == 50 and spec.validation_recall == pytest.approx(caught / 50)
    assert spec.validation_recall_ci == pytest.approx(wilson_interval(caught, 50))
    f1 = calibrate_threshold(good, defects, target_frr=0.02)  # no goal set: best F1 within 5 %
    assert f1.method == "labelled_f1" and f1.goal.startswith("best F1")
    text = describe_operating_point(spec)
    assert text.startswith("at most 2.0 % false rejects; expected false rejects 1.5 %")
    assert "expected recall" in text and "(50 defects)" in text


def test_the_maximum_of_few_goods_says_what_a_new_good_part_risks() -> None:
    """Twelve held-out goods, a 1 % goal: the threshold is their maximum, which rejects none
    of them (0.0 %), yet a thirteenth good part lands above all twelve one time in 13."""
    spec = calibrate_threshold(np.arange(12, dtype=float), target_frr=0.01)
    assert spec.validation_frr == 0.0
    assert new_part_frr_bound(spec) == pytest.approx(1 / 13)
    text = describe_operating_point(spec)
    assert "expected false rejects 0.0 %" in text
    assert "on new good parts at most 7.7 % false rejects (distribution-free)" in text


@pytest.mark.parametrize(
    ("n", "target_frr", "small_sample"), [(12, 0.01, "max"), (12, 0.01, "tail"), (60, 0.05, "max")]
)
def test_the_new_part_bound_holds_when_goods_are_drawn_again(
    n: int, target_frr: float, small_sample: str
) -> None:
    """The bound is checked against what happens: calibrate on ``n`` goods drawn from a
    skewed distribution, score 200 fresh goods, repeat; the mean fresh false-reject rate is
    the bound (the goods' quantile) or below it (the Gaussian tail sits above the maximum)."""
    rng = np.random.default_rng(7)
    rates, bounds = [], []
    for _ in range(2000):
        spec = calibrate_threshold(rng.gamma(2.0, size=n), target_frr=target_frr, small_sample=small_sample)  # type: ignore[arg-type]
        bound = new_part_frr_bound(spec)
        assert bound is not None
        bounds.append(bound)
        rates.append(float((rng.gamma(2.0, size=200) > spec.value).mean()))
    mean_rate, bound = float(np.mean(rates)), float(np.mean(bounds))
    assert spec.validation_frr is not None and spec.validation_frr < bound  # in-sample is optimistic
    if small_sample == "max":
        assert mean_rate == pytest.approx(bound, abs=0.006)
    else:
        assert mean_rate <= bound + 0.003


def test_a_labelled_threshold_states_no_new_part_bound() -> None:
    good, defects = np.linspace(0, 1, 101), np.linspace(0.5, 3, 40)
    spec = calibrate_threshold(good, defects)
    assert spec.method == "labelled_f1" and new_part_frr_bound(spec) is None
    assert "new good parts" not in describe_operating_point(spec)


@pytest.mark.parametrize(
    ("goals", "match"),
    [
        ({"target_frr": 0.0}, "target_frr must be in"),
        ({"target_frr": 1.0}, "target_frr must be in"),
        ({"target_frr": 0.02, "min_recall": 0.9}, "one operating goal at a time"),
    ],
)
def test_bad_operating_goals_are_refused_before_training(goals: dict[str, float], match: str) -> None:
    with pytest.raises(InputError, match=match):
        TrainConfig(**goals).check()  # type: ignore[arg-type]


def test_an_unreachable_recall_goal_says_so() -> None:
    good = np.linspace(1, 2, 50)
    defects = np.linspace(0, 0.5, 10)  # scored below every good part: no threshold catches 90 %
    spec = calibrate_threshold(good, defects, objective="recall", min_recall=0.9, max_frr=0.999)
    assert spec.goal.endswith("(not reachable: lowest threshold)")


def test_bad_proportions_are_refused() -> None:
    with pytest.raises(InputError, match="0 <= successes <= n"):
        wilson_interval(3, 2)
    with pytest.raises(InputError, match="n > 0"):
        wilson_interval(0, 0)


def test_a_recall_goal_without_labelled_defects_is_refused_before_training(tmp_path: Path) -> None:
    good = tmp_path / "data" / "train" / "good"
    good.mkdir(parents=True)
    for n in range(4):
        cv2.imwrite(str(good / f"{n}.png"), np.full((64, 64, 3), 100 + n, np.uint8))
    with pytest.raises(InputError, match=r"recall target \(90.0%\) needs labelled defects"):
        train_package(tmp_path / "data", tmp_path / "model", config=TrainConfig(min_recall=0.9))
    assert not (tmp_path / "model").exists()  # refused before anything was written
    with pytest.raises(InputError, match="min_recall must be in"):
        TrainConfig(min_recall=1.5).check()
