"""Gauging a part seen in several frames: the most centred view first, lengths averaged, and the result
names the views it rests on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lineguard.contracts.events import BoundingBox, Verdict
from lineguard.contracts.types import MultiViewStage
from lineguard.edge.gauging import Calibration, GaugingStage, load_spec
from lineguard.edge.gauging.render import BRACKET, BracketTruth, render_bracket
from tests.unit.edge.gauging.conftest import CAMERA

WHOLE = BoundingBox(x=0, y=0, width=CAMERA.width, height=CAMERA.height)
ROI = (0, 0, CAMERA.width, CAMERA.height)


@pytest.fixture
def stage(calibration: Calibration, spec_file: Path) -> GaugingStage:
    spec, ref = load_spec(spec_file)
    return GaugingStage("bracket", spec, calibration, inputs=(ref,), max_calibration_age_days=3650)


def _at(dx_mm: float, seed: int, truth: BracketTruth = BRACKET) -> np.ndarray:
    """The bracket moved ``dx_mm`` along the belt from the field's centre."""
    moved = BracketTruth(truth.width_mm, truth.height_mm, truth.holes, at_mm=(-40.0 + dx_mm, -25.0))
    return render_bracket(CAMERA, moved, seed=seed)


def _values(measurements: object) -> dict[str, float]:
    return {m.characteristic: m.value for m in measurements}  # type: ignore[attr-defined]


def test_the_most_centred_view_comes_first_whatever_the_decisive_frame(stage: GaugingStage) -> None:
    # The decisive frame (first) has the part far to the left; the third is nearly centred.
    images = [_at(-20.0, 1), _at(12.0, 2), _at(1.0, 3)]
    ordered, reason = stage.gauge.centred_order(images, ROI)
    assert ([i for i, _, _ in ordered], reason) == ([2, 1, 0], None)
    offsets = [stage.gauge.off_centre_px(datum) for _, _, datum in ordered]
    assert offsets == sorted(offsets) and offsets[0] < 0.1 * offsets[-1] * 2
    alone = stage.gauge.read_views(images, ROI, max_views=1)
    assert alone == stage.gauge.read(images[2], ROI)


def test_each_length_is_the_mean_over_the_views_and_presence_the_centred_views(stage: GaugingStage) -> None:
    images = [_at(-15.0, 4), _at(0.0, 5), _at(15.0, 6)]
    fused = stage.gauge.read_views(images, ROI)
    singles = [_values(stage.gauge.read(image, ROI).measurements) for image in images]
    got = _values(fused.measurements)
    for name in ("hole_a_diameter", "hole_pitch", "hole_c_to_bottom", "bottom_straightness"):
        assert got[name] == pytest.approx(np.mean([s[name] for s in singles]), abs=2e-5)
    assert got["hole_c_present"] == 1.0 and fused.reasons == []


def test_a_view_the_part_is_not_fully_in_is_skipped(stage: GaugingStage) -> None:
    cut, whole = _at(-40.0, 7), _at(3.0, 8)  # the first runs off the left of the frame
    ordered, _ = stage.gauge.centred_order([cut, whole], ROI)
    assert [i for i, _, _ in ordered] == [1]
    assert stage.gauge.read_views([cut, whole], ROI) == stage.gauge.read(whole, ROI)
    outcome = stage.inspect_views([(cut, WHOLE), (cut, WHOLE)])
    assert outcome.verdict is Verdict.UNCERTAIN
    assert [(r.code, r.subject) for r in outcome.reasons] == [("part_not_found", "part")]


def test_a_part_out_of_tolerance_on_the_mean_fails_once_with_the_mean_as_reason(stage: GaugingStage) -> None:
    big = BRACKET.with_hole("hole_a", 8.25)
    views = [(_at(dx, 9 + i, big), WHOLE) for i, dx in enumerate((-10.0, 0.0, 10.0))]
    outcome = stage.inspect_views(views)
    assert outcome.verdict is Verdict.FAIL
    (reason,) = outcome.reasons
    assert (reason.code, reason.subject) == ("out_of_tolerance", "hole_a_diameter")
    value = _values(outcome.measurements)["hole_a_diameter"]
    assert abs(value - 8.25) < 0.02 and f"{value:.3f}" in reason.message
    missing = stage.inspect_views([(_at(dx, 12, BRACKET.with_hole("hole_c", None)), WHOLE) for dx in (-5, 5)])
    assert sorted((r.code, r.subject) for r in missing.reasons) == [
        ("feature_missing", "hole_c_present"),
        ("feature_missing", "hole_c_to_bottom"),
    ]


def test_a_view_of_another_size_stops_the_measuring(stage: GaugingStage) -> None:
    image = _at(0.0, 13)
    outcome = stage.inspect_views([(image, WHOLE), (image[:, :-2], WHOLE)])
    assert outcome.verdict is Verdict.UNCERTAIN
    assert outcome.reasons[0].message == "frame is 638x480, calibrated for 640x480"


def test_the_gauging_stage_is_a_multi_view_stage(stage: GaugingStage) -> None:
    assert isinstance(stage, MultiViewStage)


def test_the_outcome_names_the_views_its_lengths_rest_on_most_centred_first(stage: GaugingStage) -> None:
    # Six views: the five most centred are averaged (the decisive frame, far left, is not one of them).
    offsets = (-30.0, 9.0, -1.0, 4.0, -6.0, 14.0)
    views = [(_at(dx, 20 + i), WHOLE) for i, dx in enumerate(offsets)]
    outcome = stage.inspect_views(views)
    assert outcome.verdict is Verdict.PASS and outcome.views == (2, 3, 4, 1, 5)
    cut = _at(-40.0, 7)  # not fully in: skipped, not named
    assert stage.inspect_views([(cut, WHOLE), (_at(3.0, 8), WHOLE)]).views == (1,)
    assert stage.inspect_views([(cut, WHOLE)]).views == ()  # nothing measured, nothing rests on a view
    assert stage.inspect(_at(0.0, 5), WHOLE).views == (0,)
