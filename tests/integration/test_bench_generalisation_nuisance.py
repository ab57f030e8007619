"""``bench/bench_generalisation.py``'s nuisance check (#24 eighth session): the paired
interval of a false-reject rise, and the synthetic sets' extra goods, which must be good
parts of the same line that are not images of the set itself; (ninth session) held-out
nuisance copies that set the unit and / or the threshold, and the recall left at the
lowest threshold that meets the target; (eleventh session) on a set with a camera condition
the nuisances happen where they physically do, and each good keeps its own camera draw."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from bench_generalisation import (
    CONFIGS,
    DEFAULT,
    fuse,
    input_normaliser,
    metrics,
    nuisance_ceiling,
    paired_rise_interval,
    reference,
)
from generalisation_data import (
    CONDITIONS,
    NUISANCES,
    SENSOR_NUISANCES,
    Camera,
    ImageSet,
    _gain,
    _noise,
    render_extra_goods,
    synthetic_sets,
    varied,
)
from lineguard.vision.preprocess import read_image


def _pairs(both: int, only_changed: int, only_unchanged: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    changed = np.r_[np.ones(both + only_changed), np.zeros(only_unchanged + neither)].astype(bool)
    unchanged = np.r_[np.ones(both), np.zeros(only_changed), np.ones(only_unchanged), np.zeros(neither)]
    return changed, unchanged.astype(bool)


def test_paired_rise_interval_matches_newcombe_by_hand() -> None:
    # 50 pairs: 36 flagged both times, 12 only changed, 2 only unchanged: rise +0.20.
    # Wilson 48/50 = (0.8654, 0.9890), 38/50 = (0.6261, 0.8573), phi = -24 / sqrt(48*2*38*12):
    # lower = 0.2 - sqrt(0.0946² + 2*0.1147*0.0946*0.0973 + 0.0973²) = 0.0567 (by hand)
    lo, hi = paired_rise_interval(*_pairs(36, 12, 2, 0))
    assert lo == pytest.approx(0.0567, abs=5e-4)
    assert 0.2 < hi < 0.36


def test_paired_rise_interval_has_width_where_nothing_is_flagged() -> None:
    # 0 of 300 flagged both ways: a bootstrap says [0, 0]; the score interval keeps
    # about a point either side, which is what 300 goods can resolve.
    lo, hi = paired_rise_interval(*_pairs(0, 0, 0, 300))
    assert -0.02 < lo < -0.005
    assert 0.005 < hi < 0.02
    lo, hi = paired_rise_interval(*_pairs(0, 5, 0, 295))
    assert 0 < lo < 5 / 300 < hi


def test_paired_rise_interval_refuses_unpaired_flags() -> None:
    with pytest.raises(ValueError, match="equal, non-zero"):
        paired_rise_interval(np.ones(3, bool), np.ones(4, bool))
    with pytest.raises(ValueError, match="equal, non-zero"):
        paired_rise_interval(np.ones(0, bool), np.ones(0, bool))


def test_metrics_compare_each_nuisance_with_the_unvaried_pool() -> None:
    rng = np.random.default_rng(0)
    scores = {
        "hold": rng.normal(0, 1, 200),
        "test": rng.normal(0, 1, 40),
        "bad": rng.normal(6, 1, 20),
        "pool": np.r_[np.zeros(299), 99.0],  # one unvaried good above any threshold
    }
    nuisance = {"shift": np.r_[np.full(290, 0.0), np.full(10, 99.0)]}
    out = metrics(scores, ["x"] * 20, nuisance, np.arange(40))
    v = out["nuisance"]["shift"]
    assert v["n"] == 300
    assert v["frr"] == pytest.approx(10 / 300)
    assert v["frr_unvaried"] == pytest.approx(1 / 300)
    assert v["diff"] == pytest.approx(9 / 300)
    lo, hi = v["frr_ci95"]
    assert lo < 10 / 300 < hi
    lo, hi = v["diff_ci95_newcombe"]
    assert 0 < lo < 9 / 300 < hi


def test_extra_goods_are_fresh_good_parts_of_the_line(tmp_path: Path) -> None:
    extra = render_extra_goods(tmp_path, seed=1, n=3)
    assert [p.name for p in extra] == ["0000.png", "0001.png", "0002.png"]
    assert render_extra_goods(tmp_path, seed=1, n=3) == extra  # rendered once, then found
    (s,) = (s for s in synthetic_sets(tmp_path, 4, 2, 1, n_extra=3) if s.name.startswith("synthetic s1"))
    assert s.nuisance_extra == tuple(extra)
    own = [read_image(p) for p in s.goods]
    for p in extra:
        image = read_image(p)
        assert image.shape == own[0].shape
        # another part, not a copy of one of the set's own goods
        assert all(np.abs(image.astype(int) - o.astype(int)).mean() > 1 for o in own)


def test_held_out_copies_join_only_the_use_they_are_asked_for() -> None:
    values = {"hold": np.array([0.0, 1.0]), "hc0": np.array([5.0]), "hc1": np.array([7.0])}
    assert reference(DEFAULT, values, "norm").tolist() == [0.0, 1.0]
    threshold_only = CONFIGS["hold copies threshold"]
    assert reference(threshold_only, values, "threshold").tolist() == [0.0, 1.0, 5.0]
    assert reference(threshold_only, values, "norm").tolist() == [0.0, 1.0]
    assert reference(
        CONFIGS["hold copies x4 both"], values | {"hc2": values["hc0"], "hc3": values["hc0"]}, "norm"
    )[-1] == pytest.approx(5.0)
    with pytest.raises(ValueError, match=r"groups \['hc2', 'hc3'\] not scored"):
        reference(CONFIGS["hold copies x4 both"], values, "norm")


def test_held_out_copies_set_the_unit_of_both_branches() -> None:
    hold = np.array([1.0, 2.0, 3.0])
    local = {"hold": hold, "hc0": np.array([11.0, 12.0, 13.0]), "test": np.array([12.0])}
    glob = {"hold": hold, "hc0": hold, "test": np.array([2.0])}
    clean = fuse(DEFAULT, local, glob)["test"]
    with_copies = fuse(CONFIGS["hold copies norm"], local, glob)["test"]
    # clean unit: 10 sds above the held-out mean; with the copies the spread is theirs too
    assert clean[0] == pytest.approx((12.0 - 2.0) / hold.std())
    ref = np.r_[hold, 11.0, 12.0, 13.0]
    assert with_copies[0] == pytest.approx((12.0 - ref.mean()) / ref.std())


def test_metrics_read_the_threshold_from_the_given_held_out_scores() -> None:
    rng = np.random.default_rng(1)
    scores = {"hold": rng.normal(0, 1, 200), "test": rng.normal(0, 1, 40), "bad": rng.normal(4, 1, 20)}
    plain = metrics(scores, ["x"] * 20, None, np.arange(40))
    wider = metrics(
        scores, ["x"] * 20, None, np.arange(40), threshold_from=np.r_[scores["hold"], np.full(50, 9.0)]
    )
    assert plain["threshold"] < 4 < wider["threshold"] == pytest.approx(9.0)
    assert wider["recall_at_threshold"] < plain["recall_at_threshold"]


def test_nuisance_ceiling_raises_the_threshold_until_the_target_is_met() -> None:
    unvaried = np.zeros(100)
    # 10 of 100 changed goods score 5: a threshold at or below 5 (and above 0) flags 10 points more
    shifted = np.r_[np.zeros(90), np.full(10, 5.0)]
    bad = np.array([4.0, 6.0, 7.0, 8.0])
    out = nuisance_ceiling({"shift": shifted}, unvaried, bad, threshold=1.0)
    assert 5.0 < out["threshold"] < 5.0 + 1e-9
    assert out["recall"] == pytest.approx(0.75)
    assert out["frr_unvaried"] == 0.0
    assert out["raised_by"] == pytest.approx(4.0)
    # one changed good of 100 above is within the 1-point tolerance: the threshold stays
    one = np.r_[np.zeros(99), 5.0]
    kept = nuisance_ceiling({"shift": one}, unvaried, bad, threshold=1.0)
    assert kept["threshold"] == 1.0
    assert kept["recall"] == 1.0
    assert kept["raised_by"] == 0.0


def _set_of(tmp_path: Path, levels: list[int]) -> ImageSet:
    rng = np.random.default_rng(3)
    goods = []
    for i, level in enumerate(levels):
        path = tmp_path / f"good{i}.png"
        image = np.clip(level + rng.normal(0, 10, (256, 256, 3)), 0, 255).astype(np.uint8)
        assert cv2.imwrite(str(path), image)
        goods.append(path)
    return ImageSet("t", "real", tmp_path, goods, len(goods), [], [])


def test_gain_normalisation_cancels_a_change_of_light(tmp_path: Path) -> None:
    s = _set_of(tmp_path, [80, 100, 120])
    normalise, suffix = input_normaliser(s, "gain")
    assert suffix.startswith("input gain ")
    assert float(suffix.split()[-1]) == pytest.approx(100, abs=1)  # the training goods' mean grey level
    image = read_image(s.goods[0])
    brighter = np.clip(image.astype(np.float32) * 1.15, 0, 255).astype(np.uint8)
    a, b = normalise(image, 0).astype(int), normalise(brighter, 0).astype(int)
    assert abs(a.mean() - 100) < 1.5
    assert np.abs(a - b).mean() < 1.0  # the same image again, up to 8-bit rounding
    # a gain only: an offset of light is not cancelled (the spread is scaled); "standard" cancels it
    offset = np.clip(image.astype(np.int16) + 20, 0, 255).astype(np.uint8)
    standard, _ = input_normaliser(s, "standard")
    left = np.abs(standard(offset, 0).astype(int) - standard(image, 0).astype(int)).mean()
    assert left < 1.0 < np.abs(normalise(offset, 0).astype(int) - a).mean()


def test_input_normaliser_refuses_an_unknown_kind(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must be one of"):
        input_normaliser(_set_of(tmp_path, [90]), "histogram")


def _flat(level: int = 120) -> np.ndarray:
    return np.full((256, 256, 3), level, np.uint8)


def _fine_detail_sd(image: np.ndarray) -> float:
    """The sd of what a 1.5-px blur removes: sensor noise, not the scene's slow changes."""
    x = image.astype(np.float32)
    return float((x - cv2.GaussianBlur(x, (0, 0), 1.5)).std())


def test_camera_conditions_are_the_suites_conditions_pixel_for_pixel() -> None:
    # The goods' and defects' cached features were computed with the old transforms: the
    # Camera must reproduce them exactly, or the suite's accuracy figures would move.
    image = np.random.default_rng(5).integers(0, 256, (256, 256, 3)).astype(np.uint8)
    dim_noisy, low_res = CONDITIONS["dim+noisy"], CONDITIONS["low-res"]
    assert dim_noisy is not None and low_res is not None
    old_dim_noisy = _noise(6.0)(_gain(0.7)(image, 7), 7 + 100_000)
    assert np.array_equal(dim_noisy(image, 7), old_dim_noisy)
    small = cv2.resize(image, (85, 85), interpolation=cv2.INTER_AREA)
    assert np.array_equal(low_res(image, 7), cv2.resize(small, (256, 256), interpolation=cv2.INTER_LINEAR))
    assert CONDITIONS["nominal"] is None


def test_defocus_blurs_the_scene_not_the_cameras_own_noise() -> None:
    camera = Camera(gain=0.7, noise=6.0)
    unvaried = camera.capture(_flat(), 3)
    blurred = camera.capture(_flat(), 3, "blur 1px")
    # the flat scene is unchanged by a defocus: the camera's image is the same, noise and all
    assert np.array_equal(blurred, unvaried)
    assert _fine_detail_sd(unvaried) > 4.0
    # the order before the fix: the blur applied to the camera's output smoothed its noise away
    after = NUISANCES["blur 1px"](unvaried, 3)
    assert _fine_detail_sd(after) < 0.5 * _fine_detail_sd(unvaried)


def test_sensor_noise_on_a_low_resolution_camera_comes_at_its_resolution() -> None:
    camera = Camera(downscale=3)
    noisy = camera.capture(_flat(), 0, "noise 5")
    assert "noise 5" in SENSOR_NUISANCES
    # at the sensor (85 x 85) it is noise of sd 5; read out at 256 it is smooth
    sensor = cv2.resize(noisy, (85, 85), interpolation=cv2.INTER_AREA).astype(np.float32)
    assert 2.0 < float(sensor.std()) < 6.0
    before_fix = NUISANCES["noise 5"](camera(_flat(), 0), 0)  # noise on the delivered image
    assert _fine_detail_sd(before_fix) > 4.0
    assert _fine_detail_sd(noisy) < 0.5 * _fine_detail_sd(before_fix)


def test_scene_nuisances_go_through_the_camera() -> None:
    # light in front of a dim camera: scaled before the camera's gain, its noise not scaled
    camera = Camera(gain=0.7, noise=6.0)
    brighter = camera.capture(_flat(100), 4, "light +15%").astype(np.float32)
    plain = camera.capture(_flat(100), 4).astype(np.float32)
    assert (brighter - plain).mean() == pytest.approx(0.7 * 100 * 0.15, abs=0.6)
    assert (brighter - plain).std() < 0.6  # the same noise draw, not 1.15 x it


def test_a_good_keeps_its_own_camera_draw_varied_or_not() -> None:
    camera = Camera(gain=0.7, noise=6.0)
    identity = {0: 95, 1: 96}  # list position -> the image's index in the set
    for name in ("shift 4px", "rotate 2deg", "blur 1px"):  # no-ops on a flat scene
        t = varied(camera, name, identity.__getitem__)
        assert t is not None
        assert np.array_equal(t(_flat(), 1), camera(_flat(), 96))
        # not the draw of the set's image at index 1 (a fitted good on the fixed split)
        assert not np.array_equal(t(_flat(), 1), camera(_flat(), 1))
    unvaried = varied(camera, None, identity.__getitem__)
    assert unvaried is not None
    assert np.array_equal(unvaried(_flat(), 0), camera(_flat(), 95))


def test_without_a_camera_condition_the_nuisances_are_as_before() -> None:
    assert varied(None, "noise 5", lambda k: k + 10) is NUISANCES["noise 5"]
    assert varied(None, None, lambda k: k) is None


def test_an_unknown_nuisance_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown nuisance 'fog'"):
        Camera(downscale=3).capture(_flat(), 0, "fog")
