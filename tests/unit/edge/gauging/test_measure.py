"""Measuring rendered brackets of known geometry: values, uncertainties, verdicts, bad input."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from lineguard.config.stages import GaugingStageConfig
from lineguard.contracts.errors import CalibrationError, ConfigError
from lineguard.contracts.events import BoundingBox, Verdict
from lineguard.contracts.types import InspectionStage
from lineguard.edge.gauging import Calibration, GaugingStage, load_spec
from lineguard.edge.gauging.render import BRACKET, BracketTruth, Lighting, render_bracket
from lineguard.edge.gauging.spec import MIN_BAND_PX
from lineguard.edge.stages import build_stages
from tests.unit.edge.gauging.conftest import CALIBRATED_AT, CAMERA, SPEC, public_pem, signed_calibration
from tests.unit.edge.support import camera, edge_config

WHOLE = BoundingBox(x=0, y=0, width=CAMERA.width, height=CAMERA.height)


@pytest.fixture
def stage(calibration: Calibration, spec_file: Path) -> GaugingStage:
    spec, ref = load_spec(spec_file)
    return GaugingStage("bracket", spec, calibration, inputs=(ref,), max_calibration_age_days=3650)


def _values(outcome: object) -> dict[str, float]:
    return {m.characteristic: m.value for m in outcome.measurements}  # type: ignore[attr-defined]


def test_a_nominal_bracket_passes_and_every_value_is_within_its_uncertainty_of_the_truth(
    stage: GaugingStage,
) -> None:
    outcome = stage.inspect(render_bracket(CAMERA, seed=1), WHOLE)
    assert outcome.verdict is Verdict.PASS and outcome.reasons == ()
    truth = {"hole_a_diameter": 8.0, "hole_b_diameter": 8.0, "hole_pitch": 40.0, "hole_c_to_bottom": 40.0}
    for m in outcome.measurements:
        if m.characteristic in truth:
            assert abs(m.value - truth[m.characteristic]) <= max(m.uncertainty, 0.01), m
            assert 0 < m.uncertainty < 0.05 and m.unit == "mm" and m.in_tolerance
    assert _values(outcome)["hole_c_present"] == 1.0
    assert _values(outcome)["bottom_straightness"] < 0.1
    assert [i.name for i in outcome.inputs] == ["spec"]


def test_an_oversize_hole_fails_with_the_measurement_as_the_reason(stage: GaugingStage) -> None:
    outcome = stage.inspect(render_bracket(CAMERA, BRACKET.with_hole("hole_a", 8.25), seed=2), WHOLE)
    assert outcome.verdict is Verdict.FAIL
    (reason,) = outcome.reasons
    assert (reason.code, reason.subject) == ("out_of_tolerance", "hole_a_diameter")
    assert "outside [7.900, 8.100] mm" in reason.message
    assert abs(_values(outcome)["hole_a_diameter"] - 8.25) < 0.02


def test_a_missing_hole_fails_every_measurement_that_needs_it(stage: GaugingStage) -> None:
    outcome = stage.inspect(render_bracket(CAMERA, BRACKET.with_hole("hole_c", None), seed=3), WHOLE)
    assert outcome.verdict is Verdict.FAIL
    assert sorted((r.code, r.subject) for r in outcome.reasons) == [
        ("feature_missing", "hole_c_present"),
        ("feature_missing", "hole_c_to_bottom"),
    ]
    assert _values(outcome)["hole_c_present"] == 0.0


def test_a_bent_edge_fails_straightness_and_a_moved_rotated_part_still_measures(stage: GaugingStage) -> None:
    bent = stage.inspect(render_bracket(CAMERA, BracketTruth(bottom_bow_mm=0.2), seed=4), WHOLE)
    assert [(r.code, r.subject) for r in bent.reasons] == [("out_of_tolerance", "bottom_straightness")]
    assert abs(_values(bent)["bottom_straightness"] - 0.2) < 0.05
    moved = stage.inspect(render_bracket(CAMERA, BracketTruth(at_mm=(-36, -28), angle_deg=5), seed=5), WHOLE)
    assert moved.verdict is Verdict.PASS, moved.reasons
    assert abs(_values(moved)["hole_pitch"] - 40.0) < 0.02


def test_uneven_light_and_blur_do_not_move_the_edges(stage: GaugingStage) -> None:
    light = Lighting(background=40, part=150, gradient=0.3, blur_sigma_px=1.5, noise_sigma=3)
    outcome = stage.inspect(render_bracket(CAMERA, lighting=light, seed=6), WHOLE)
    assert outcome.verdict is Verdict.PASS, outcome.reasons
    assert abs(_values(outcome)["hole_a_diameter"] - 8.0) < 0.02


def test_what_cannot_be_measured_is_uncertain_never_a_pass(stage: GaugingStage) -> None:
    image = render_bracket(CAMERA, seed=7)
    cut = BoundingBox(x=0, y=0, width=CAMERA.width // 2, height=CAMERA.height)  # half the part
    outcome = stage.inspect(image, cut)
    assert outcome.verdict is Verdict.UNCERTAIN
    assert [(r.code, r.subject) for r in outcome.reasons] == [("part_not_found", "part")]
    empty = stage.inspect(np.full_like(image, 25), WHOLE)
    assert empty.verdict is Verdict.UNCERTAIN and empty.reasons[0].code == "part_not_found"
    small = BracketTruth(width_mm=60, holes={"hole_a": (15.0, 25.0, 8.0)})
    other = stage.inspect(render_bracket(CAMERA, small, seed=8), WHOLE)
    assert other.verdict is Verdict.UNCERTAIN and "not the spec's 80 x 50 mm" in other.reasons[0].message
    wrong_size = stage.inspect(image[:, :-2], WHOLE)
    assert wrong_size.verdict is Verdict.UNCERTAIN
    assert wrong_size.reasons[0].message == "frame is 638x480, calibrated for 640x480"


def test_a_calibration_that_ages_past_its_limit_while_running_stops_the_measuring(
    calibration: Calibration, spec_file: Path
) -> None:
    spec, _ = load_spec(spec_file)
    stale = GaugingStage("bracket", spec, calibration, max_calibration_age_days=1)
    outcome = stale.inspect(render_bracket(CAMERA, seed=9), WHOLE)
    assert outcome.verdict is Verdict.UNCERTAIN and outcome.measurements == ()
    assert outcome.reasons[0].code == "calibration_invalid" and "recalibrate" in outcome.reasons[0].message


def test_the_stage_is_built_from_edge_yaml_and_refuses_without_a_valid_calibration(
    calibration: Calibration, signing_key: ec.EllipticCurvePrivateKey, spec_file: Path, tmp_path: Path
) -> None:
    folder = signed_calibration(calibration, signing_key, tmp_path / "cal")
    key = public_pem(signing_key, tmp_path / "signer.pem")
    entry: dict[str, object] = {"kind": "gauging", "name": "bracket", "calibration": str(folder)}
    entry |= {"signer_key": str(key), "spec": str(spec_file), "max_calibration_age_days": 3650}
    config = edge_config(tmp_path, [camera("cam-1", tmp_path / "m", stages=[entry])])
    (built,) = build_stages(config.cameras[0])
    assert isinstance(built, GaugingStage)
    assert [(i.name, i.version) for i in built.inputs] == [("calibration", 1), ("spec", 2)]
    other_camera = edge_config(tmp_path, [camera("cam-2", tmp_path / "m", stages=[entry])])
    with pytest.raises(CalibrationError, match="calibrates camera 'cam-1', not 'cam-2'"):
        build_stages(other_camera.cameras[0])
    missing = edge_config(
        tmp_path, [camera("cam-1", tmp_path / "m", stages=[entry | {"calibration": "/nope"}])]
    )
    with pytest.raises(CalibrationError, match="not calibrated"):
        build_stages(missing.cameras[0])
    direct = GaugingStageConfig.model_validate(entry | {"max_calibration_age_days": 1})
    with pytest.raises(CalibrationError, match="recalibrate"):
        GaugingStage.from_config(direct, camera_id="cam-1", now=CALIBRATED_AT + timedelta(days=3))


DEFAULT_RESOLUTION_SPEC = SPEC.replace("max_mm_per_px: 0.25\n", "")


def test_a_calibration_too_coarse_for_the_spec_is_refused_naming_both(
    calibration: Calibration, signing_key: ec.EllipticCurvePrivateKey, tmp_path: Path
) -> None:
    """The default: the tightest band over MIN_BAND_PX. The bracket's 0.1 mm band at this
    camera's ~0.2 mm/px is half a pixel: too little for a gauge to repeat to a tenth of it."""
    default = tmp_path / "default.yaml"
    default.write_text(DEFAULT_RESOLUTION_SPEC, encoding="utf-8")
    spec, _ = load_spec(default)
    assert spec.max_mm_per_px is None
    assert spec.coarsest_mm_per_px == pytest.approx(0.1 / MIN_BAND_PX)
    with pytest.raises(CalibrationError, match=r"calibrated at 0\.20\d* mm/px, too coarse") as refused:
        GaugingStage("bracket", spec, calibration)
    assert "tightest tolerance band, 0.1 mm, needs at most 0.1429 mm/px" in refused.value.message
    assert any("recalibrate" in d for d in refused.value.details)
    # The same refusal keeps the camera's stages from being built out of edge.yaml.
    folder = signed_calibration(calibration, signing_key, tmp_path / "cal")
    entry: dict[str, object] = {"kind": "gauging", "name": "bracket", "calibration": str(folder)}
    entry |= {"signer_key": str(public_pem(signing_key, tmp_path / "k.pem")), "spec": str(default)}
    entry |= {"max_calibration_age_days": 3650}
    config = edge_config(tmp_path, [camera("cam-1", tmp_path / "m", stages=[entry])])
    with pytest.raises(CalibrationError, match="too coarse for spec bracket v2"):
        build_stages(config.cameras[0])


def test_a_spec_may_state_the_resolution_it_needs(calibration: Calibration, tmp_path: Path) -> None:
    """A dim station's spec asks for a finer scale than the default; a spec may also accept a
    coarser one explicitly, as the tests' spec does (its author's call, in its sha256)."""
    finer = tmp_path / "finer.yaml"
    finer.write_text(SPEC.replace("max_mm_per_px: 0.25", "max_mm_per_px: 0.1"), encoding="utf-8")
    spec, _ = load_spec(finer)
    with pytest.raises(CalibrationError, match=r"its max_mm_per_px is 0\.1"):
        GaugingStage("bracket", spec, calibration)
    coarser = tmp_path / "coarser.yaml"
    coarser.write_text(SPEC, encoding="utf-8")
    spec, _ = load_spec(coarser)
    assert GaugingStage("bracket", spec, calibration).calibration.mm_per_px < spec.coarsest_mm_per_px == 0.25
    bad = tmp_path / "bad.yaml"
    bad.write_text(SPEC.replace("max_mm_per_px: 0.25", "max_mm_per_px: 0"), encoding="utf-8")
    with pytest.raises(ConfigError):
        load_spec(bad)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("feature: hole_a, nominal: 8.0", "feature: hole_z, nominal: 8.0"), "names feature 'hole_z'"),
        (("type: diameter, feature: hole_a", "type: diameter, feature: bottom"), "is measured on a hole"),
        (("tolerance: 0.15", "tolerance: [0.1, 0.2]"), "must bracket the nominal"),
        (("name: hole_b_diameter", "name: hole_a_diameter"), "repeated: hole_a_diameter"),
        (("search_mm: 1.5", "search_mm: 1.5\ncolour: red"), "colour: is not a known setting"),
        (
            (
                "bottom: {type: edge, from: [5, 50], to: [75, 50]}",
                "bottom: {type: edge, from: [5, 50], to: [5, 50]}",
            ),
            "at least 1 mm long",
        ),
    ],
)
def test_a_spec_that_cannot_be_applied_is_refused_on_load(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(SPEC.replace(*change), encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_spec(path)
    assert any(message in d for d in refused.value.details), refused.value.details
    with pytest.raises(ConfigError, match="cannot be read"):
        load_spec(tmp_path / "none.yaml")


def test_the_tightest_tolerance_of_the_demo_spec(spec_file: Path) -> None:
    spec, _ = load_spec(spec_file)
    assert spec.tightest_tolerance_mm == pytest.approx(0.1)  # straightness 0.1, diameters ±0.1 → 0.2


def test_the_gauging_stage_conforms_to_the_stage_protocol(stage: GaugingStage) -> None:
    # The scripted fake's conformance is checked in tests/unit/edge/test_stages.py.
    assert isinstance(stage, InspectionStage)
    assert (stage.name, stage.kind.value) == ("bracket", "gauging")
