"""Threshold calibration: good-only quantiles, labelled defects, and never 'flag everything'."""

from __future__ import annotations

import numpy as np
import pytest

from lineguard.contracts.errors import InputError
from lineguard.vision.calibration import calibrate_threshold


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
