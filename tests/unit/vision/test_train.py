"""Train → package → ONNX parity → evaluate → localise, on synthetic parts (no shared data needed)."""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from lineguard.contracts.errors import DatasetError, ImageDecodeError, InputError
from lineguard.vision.calibration import gaussian_tail_threshold
from lineguard.vision.dataset import scan_dataset
from lineguard.vision.defectproto import prototype_cells
from lineguard.vision.evaluate import evaluate_package, load_mask
from lineguard.vision.export import export_onnx, parity
from lineguard.vision.fewshot import CANDIDATES, fused
from lineguard.vision.package import load_package
from lineguard.vision.preprocess import read_image
from lineguard.vision.regions import regions_from_map
from lineguard.vision.runtime import OnnxModelRunner
from lineguard.vision.train import (
    FittedDetector,
    TrainResult,
    _score_paths,
    fit_detector,
    load_inputs,
    split_holdout,
    train_package,
)
from tests.unit.vision.conftest import FAST

# Training happens in the first test that needs it; a loaded 2-core CI machine needs minutes.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_package_holds_a_complete_description(trained: TrainResult) -> None:
    meta = load_package(trained.package.path).metadata
    assert meta.method == "local-global-gaussian"
    assert meta.backbone == "mobilenet-v2"
    assert (meta.input.width, meta.input.height, meta.input.colour_order) == (128, 128, "RGB")
    assert meta.training_data.image_count == 40
    assert meta.threshold.method == "good_quantile"
    assert meta.threshold.validation_good_count == 6  # 15% of 40, by file-name hash
    assert meta.evaluation.parity_max_abs_diff is not None and meta.evaluation.parity_max_abs_diff <= 1e-4
    assert meta.class_names == ["anomaly"]
    assert sorted(p.name for p in trained.package.path.iterdir()) == ["metadata.json", "model.onnx"]


def test_onnx_matches_torch_on_every_test_image(trained: TrainResult, synthetic_dataset: Path) -> None:
    runner = OnnxModelRunner(trained.package.path, threads=2)
    paths = [i.path for i in scan_dataset(synthetic_dataset).test]
    torch_scores, torch_maps = trained.fitted.score(load_inputs(paths, 128))
    for path, t_score, t_map in zip(paths, torch_scores, torch_maps, strict=True):
        scores = runner.infer(read_image(path))
        assert abs(scores.anomaly_score - float(t_score)) <= 1e-4, path
        assert np.abs(scores.anomaly_map - t_map).max() <= 1e-3, path


def test_defects_are_found_and_localised(trained: TrainResult, synthetic_dataset: Path) -> None:
    report = evaluate_package(trained.package.path, synthetic_dataset, threads=2)
    assert report.image_auroc >= 0.95
    assert report.pixel_auroc is not None and report.pixel_auroc >= 0.9
    assert report.aupro is not None and 0.5 <= report.aupro <= 1.0  # random maps score 0.15
    assert all(t.aupro is not None for t in report.per_type)
    assert report.at_threshold.frr <= 0.2
    assert {t.defect_type for t in report.per_type} == {"hole", "scratch"}
    hits = 0
    for result in (r for r in report.results if r.label == "hole"):
        assert result.mask is not None
        regions = regions_from_map(
            result.anomaly_map, pixel_threshold=report.region_threshold, out_width=128, out_height=128
        )
        ys, xs = np.nonzero(result.mask)
        cy, cx = ys.mean(), xs.mean()
        hits += any(
            r.bbox.x <= cx <= r.bbox.x + r.bbox.width and r.bbox.y <= cy <= r.bbox.y + r.bbox.height
            for r in regions
        )
    assert hits >= 5  # of 6 holes, the box covers the hole's centre


def test_holdout_split_is_deterministic_and_disjoint(synthetic_dataset: Path) -> None:
    paths = scan_dataset(synthetic_dataset).train_good
    fit, hold = split_holdout(synthetic_dataset, paths, 0.15)
    assert set(fit).isdisjoint(hold) and len(fit) + len(hold) == len(paths)
    assert len(hold) == 6
    _, hold_reversed = split_holdout(synthetic_dataset, sorted(paths, reverse=True), 0.15)
    assert set(hold_reversed) == set(hold)  # chosen by name hash, not by listing order


def test_too_few_images_is_a_clear_error(synthetic_dataset: Path, tmp_path: Path) -> None:
    small = tmp_path / "small"
    (small / "train" / "good").mkdir(parents=True)
    for p in sorted((synthetic_dataset / "train" / "good").iterdir())[:5]:
        shutil.copy(p, small / "train" / "good" / p.name)
    with pytest.raises(DatasetError, match="holds 5 good images; at least 12"):
        train_package(small, tmp_path / "out", config=FAST)


def _copy_train(src: Path, dst: Path) -> Path:
    shutil.copytree(src / "train", dst / "train")
    return dst


def test_corrupt_image_is_named_and_never_skipped(synthetic_dataset: Path, tmp_path: Path) -> None:
    data = _copy_train(synthetic_dataset, tmp_path / "d")
    bad = data / "train" / "good" / "007.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(ImageDecodeError, match=r"007\.png"):
        train_package(data, tmp_path / "out", config=FAST)
    assert not (tmp_path / "out").exists()


def test_truncated_image_is_refused(synthetic_dataset: Path, tmp_path: Path) -> None:
    data = _copy_train(synthetic_dataset, tmp_path / "d")
    path = data / "train" / "good" / "003.png"
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ImageDecodeError, match=r"003\.png: image file is truncated"):
        read_image(path)


def test_non_image_file_in_train_folder_is_an_error(synthetic_dataset: Path, tmp_path: Path) -> None:
    data = _copy_train(synthetic_dataset, tmp_path / "d")
    (data / "train" / "good" / "notes.txt").write_text("hello")
    with pytest.raises(DatasetError, match=r"notes\.txt: not an image file"):
        train_package(data, tmp_path / "out", config=FAST)


@pytest.mark.parametrize("layout", ["missing", "misnamed", "empty"])
def test_bad_dataset_layouts(tmp_path: Path, layout: str) -> None:
    root = tmp_path / "ds"
    if layout == "misnamed":
        (root / "train" / "ok").mkdir(parents=True)
    elif layout == "empty":
        (root / "train" / "good").mkdir(parents=True)
    with pytest.raises(DatasetError) as info:
        train_package(root, tmp_path / "out", config=FAST)
    expected = {"missing": "does not exist", "misnamed": "holds ok/", "empty": "holds no images"}[layout]
    assert expected in str(info.value)


def test_existing_output_is_not_clobbered(trained: TrainResult, synthetic_dataset: Path) -> None:
    with pytest.raises(InputError, match="already exists"):
        train_package(synthetic_dataset, trained.package.path, config=FAST)


def test_image_size_must_suit_the_pyramid(synthetic_dataset: Path, tmp_path: Path) -> None:
    from dataclasses import replace

    with pytest.raises(InputError, match="multiple of 128"):
        train_package(synthetic_dataset, tmp_path / "o", config=replace(FAST, image_size=200))


def test_gray_and_colour_frames_score_alike(trained: TrainResult, synthetic_dataset: Path) -> None:
    runner = OnnxModelRunner(trained.package.path, threads=1)
    gray = read_image(sorted((synthetic_dataset / "test" / "good").iterdir())[0])[:, :, 0]
    assert runner.infer(gray).anomaly_score == pytest.approx(
        runner.infer(np.dstack([gray] * 3)).anomaly_score
    )
    tiny, huge = gray[:10, :10], np.tile(gray, (20, 20))
    assert np.isfinite(runner.infer(tiny).anomaly_score)
    assert np.isfinite(runner.infer(huge).anomaly_score)


def test_mask_loading(synthetic_dataset: Path) -> None:
    mask = load_mask(next((synthetic_dataset / "ground_truth" / "hole").iterdir()), 64, 32)
    assert mask.shape == (32, 64) and mask.any()
    assert not load_mask(None, 8, 8).any()


def test_metadata_records_the_method_settings(trained: TrainResult) -> None:
    raw = json.loads((trained.package.path / "metadata.json").read_text())
    assert raw["format_version"] == 1
    assert raw["parameters"]["local_layers"] == "1,2"
    assert raw["created_at"].endswith("Z") or raw["created_at"].endswith("+00:00")


def test_labelled_validation_defects_calibrate_the_threshold(synthetic_dataset: Path, tmp_path: Path) -> None:
    data = _copy_train(synthetic_dataset, tmp_path / "d")
    for kind in ("good", "hole"):
        shutil.copytree(synthetic_dataset / "test" / kind, data / "validation" / kind)
    result = train_package(data, tmp_path / "pkg", config=FAST)
    meta = result.package.metadata
    assert meta.threshold.method == "labelled_f1"
    assert meta.threshold.validation_good_count == 10 and meta.threshold.validation_defect_count == 6
    assert meta.threshold.validation_frr is not None and meta.threshold.validation_frr <= 0.05
    assert meta.evaluation.image_auroc is not None and meta.evaluation.image_auroc >= 0.9
    assert meta.training_data.image_count == 40 + 16  # every file given counts in the digest
    # The labelled defects also chose the local branch's weight (fewshot), recorded with its evidence.
    weight = result.fitted.local_weight
    assert weight is not None and weight.defect_count == 6 and weight.good_count == 10
    assert meta.parameters["local_weight"] == weight.local and meta.parameters["fusion"] == "max"
    assert meta.parameters["image_score"] == ("weighted sum" if weight.fusion == "sum" else "map peak")
    assert "chosen on 6 labelled defects" in meta.score_normalisation.description


def test_a_false_reject_goal_is_kept_with_labelled_defects_and_recall_reported(
    synthetic_dataset: Path, tmp_path: Path
) -> None:
    data = _copy_train(synthetic_dataset, tmp_path / "d")
    for kind in ("good", "hole"):
        shutil.copytree(synthetic_dataset / "test" / kind, data / "validation" / kind)
    meta = train_package(data, tmp_path / "pkg", config=replace(FAST, target_frr=0.1)).package.metadata
    assert meta.threshold.method == "good_quantile" and meta.threshold.goal == "at most 10.0 % false rejects"
    assert meta.threshold.validation_defect_count == 6 and meta.threshold.validation_recall is not None
    assert meta.threshold.validation_recall_ci is not None and meta.threshold.validation_frr_ci is not None


def test_labelled_defects_weigh_the_local_branch_and_nothing_else(synthetic_dataset: Path) -> None:
    """Labelled defects only choose the image score: same statistics, same global branch, and the
    held-out scores are the chosen fusion of w * z_local and z_global of the unweighted branches;
    a weighted sum leaves the map (so the region level) exactly the zero-shot one."""
    ds = scan_dataset(synthetic_dataset)
    fit, hold = split_holdout(synthetic_dataset, ds.train_good, 0.15)
    defects = [i.path for i in ds.test if i.is_defect]
    plain = fit_detector(fit, hold, FAST)
    few = fit_detector(fit, hold, replace(FAST, few_shot_prototypes=False), defect_paths=defects)
    off = fit_detector(fit, hold, replace(FAST, few_shot=False), defect_paths=defects)
    assert plain.local_weight is None and off.local_weight is None
    assert off.local_norm == plain.local_norm
    w = few.local_weight
    assert w is not None and (w.fusion, w.local) in CANDIDATES and w.defect_count == len(defects)
    assert w.separation >= w.zero_shot_separation
    assert few.global_norm == plain.global_norm and few.local_norm == plain.local_norm
    assert plain.detector.head.score_weight is None
    assert few.detector.head.score_weight == (w.local if w.fusion == "sum" else None)
    assert few.region_level == plain.region_level  # the map is the zero-shot map either way
    with torch.no_grad():
        head = plain.detector.head
        local_map, gdist = head.raw_from_parts(
            *head.image_parts(plain.detector.backbone, torch.from_numpy(load_inputs(hold, 128)))
        )
    z_local = (local_map.flatten(1).amax(1).numpy() - plain.local_norm[0]) / plain.local_norm[1]
    z_global = (gdist.numpy() - plain.global_norm[0]) / plain.global_norm[1]
    np.testing.assert_allclose(few.holdout_scores, fused(z_local, z_global, w.local, w.fusion), atol=1e-4)


def test_a_weighted_sum_score_exports_beside_the_unchanged_map(
    trained: TrainResult, synthetic_dataset: Path
) -> None:
    """The few-shot image score ``w * peak z_local + z_global`` in the ONNX graph: parity within
    1e-4, the map identical to the zero-shot package's (whichever candidate the small set chose)."""
    zero = trained.fitted.detector
    detector = copy.deepcopy(zero)
    detector.head.score_weight = 0.25
    batch = load_inputs([i.path for i in scan_dataset(synthetic_dataset).test][:8], 128)
    with torch.no_grad():
        x = torch.from_numpy(batch)
        zero_score, zero_map = zero(x)
        score, amap = detector(x)
        local_map, gdist = zero.head.raw_from_parts(*zero.head.image_parts(zero.backbone, x))
    torch.testing.assert_close(amap, zero_map, rtol=0, atol=0)
    norm = zero.head.norm
    z_local = (local_map.flatten(1).amax(1) - norm[0]) / norm[1]
    torch.testing.assert_close(score, 0.25 * z_local + (gdist - norm[2]) / norm[3])
    assert not torch.allclose(score, zero_score)
    score_diff, map_diff = parity(detector, export_onnx(detector, height=128, width=128), [batch, batch[:1]])
    assert score_diff <= 1e-4 and map_diff <= 1e-3


def test_labelled_defect_prototypes_score_only_where_they_separate_better(synthetic_dataset: Path) -> None:
    """The nearest-labelled-defect-patch evidence (``defectproto``) is fitted on the labelled
    defects' masked cells, read leave-one-out, and scores images only where it separates them
    better than the shipped choice; either way the map and the region level are zero-shot's."""
    ds = scan_dataset(synthetic_dataset)
    fit, hold = split_holdout(synthetic_dataset, ds.train_good, 0.15)
    labelled = [i for i in ds.test if i.is_defect]
    paths, masks = [i.path for i in labelled], [i.mask for i in labelled]
    assert all(m is not None for m in masks)
    plain = fit_detector(fit, hold, FAST)
    few = fit_detector(
        fit, hold, replace(FAST, few_shot_prototypes=True), defect_paths=paths, defect_masks=masks
    )
    proto, shipped = few.prototypes, few.local_weight
    assert proto is not None and shipped is not None
    assert proto.weight.defect_count == len(paths) and 0 < proto.prototypes.count <= 16 * len(paths)
    assert proto.taken == (proto.weight.separation > shipped.separation + 1e-12)
    assert few.region_level == plain.region_level
    head = few.detector.head
    assert head.prototypes == proto.taken
    if proto.taken:
        assert set(few.labelled_scores) == set(paths) and head.score_weight is None
        z_proto = (proto.hold_peaks - proto.norm[0]) / proto.norm[1]
        with torch.no_grad():
            _, gdist = plain.detector.head.raw_from_parts(
                *head.image_parts(plain.detector.backbone, torch.from_numpy(load_inputs(hold, 128)))
            )
        z_global = (gdist.numpy() - plain.global_norm[0]) / plain.global_norm[1]
        expected = fused(z_proto, z_global, proto.weight.local, proto.weight.fusion)
        np.testing.assert_allclose(few.holdout_scores, expected, atol=1e-4)
    else:
        assert few.labelled_scores == {}
    off = fit_detector(fit, hold, replace(FAST, few_shot_prototypes=False), defect_paths=paths)
    assert off.prototypes is None and not off.detector.head.prototypes
    with pytest.raises(InputError, match="one mask"):
        fit_detector(
            fit, hold, replace(FAST, few_shot_prototypes=True), defect_paths=paths, defect_masks=masks[:1]
        )


def test_a_prototype_score_exports_beside_the_unchanged_map(
    trained: TrainResult, synthetic_dataset: Path
) -> None:
    """Prototypes in the graph: one product on the local branch's whitened residual, the image
    score from their map's peak, ONNX parity within 1e-4, the map the zero-shot package's."""
    zero = trained.fitted.detector
    detector = copy.deepcopy(zero)
    head = detector.head
    defects = [i.path for i in scan_dataset(synthetic_dataset).test if i.is_defect]
    with torch.no_grad():
        x = torch.from_numpy(load_inputs(defects, 128))
        emb, _ = head.image_parts(detector.backbone, x)
        resid = head.local_residual(emb).permute(1, 0, 2).numpy()
    head.set_prototypes(*prototype_cells(resid, cap=4).tensors())
    head.set_prototype_score((50.0, 10.0), "sum", 0.5)
    batch = load_inputs([i.path for i in scan_dataset(synthetic_dataset).test][:8], 128)
    with torch.no_grad():
        zero_score, zero_map = zero(torch.from_numpy(batch))
        score, amap = detector(torch.from_numpy(batch))
    torch.testing.assert_close(amap, zero_map, rtol=0, atol=0)
    assert not torch.allclose(score, zero_score)
    score_diff, map_diff = parity(detector, export_onnx(detector, height=128, width=128), [batch, batch[:1]])
    assert score_diff <= 1e-4 and map_diff <= 1e-3


def test_labelled_defects_read_leave_one_out_are_scored_as_recorded(trained: TrainResult) -> None:
    """Calibration reads a labelled defect the package holds prototypes of by its leave-one-out
    score, and every other image through the detector, in the order asked."""
    fitted = copy.copy(trained.fitted)
    paths = list(fitted.holdout_paths[:3])
    direct = _score_paths(fitted, paths)
    fitted.labelled_scores = {paths[1]: 123.0}
    got = _score_paths(fitted, paths)
    np.testing.assert_allclose(got, [direct[0], 123.0, direct[2]], rtol=1e-6)


def test_identical_training_images_are_a_clear_error(tmp_path: Path) -> None:
    import cv2

    folder = tmp_path / "same" / "train" / "good"
    folder.mkdir(parents=True)
    image = np.random.default_rng(0).integers(0, 256, (100, 100), dtype=np.uint8)
    for i in range(16):
        cv2.imwrite(str(folder / f"{i:02d}.png"), image)
    with pytest.raises(DatasetError, match="nearly\\) identical"):
        train_package(tmp_path / "same", tmp_path / "out", config=FAST)


def test_efficientnet_lite0_backbone_also_trains(synthetic_dataset: Path, tmp_path: Path) -> None:
    from dataclasses import replace

    result = train_package(
        synthetic_dataset, tmp_path / "eff", config=replace(FAST, backbone="efficientnet-lite0")
    )
    meta = result.package.metadata
    assert meta.backbone == "efficientnet-lite0"
    assert meta.input.mean == (0.5, 0.5, 0.5)
    assert meta.parameters["backbone_layers"] == "2,4,10,14"
    assert evaluate_package(result.package.path, synthetic_dataset, threads=1).image_auroc >= 0.9


def test_package_stores_the_local_statistics_packed_in_float16(trained: TrainResult) -> None:
    import onnx

    model = onnx.load(str(trained.package.path / "model.onnx"))
    big = {t.name: (list(t.dims), t.data_type) for t in model.graph.initializer if np.prod(t.dims) > 10_000}
    packed = [v for v in big.values() if v[1] == onnx.TensorProto.FLOAT16]
    assert len(packed) == 1 and packed[0][0][1] == 128 * 129 // 2  # lower triangles of 128 x 128
    # no dense float32 per-position matrix, and the global basis stored once (not also transposed)
    assert not [v for v in big.values() if len(v[0]) == 3 and v[0][1:] == [128, 128]]
    assert sum(1 for v in big.values() if sorted(v[0]) == sorted(big["head.global_basis"][0])) == 1


def test_training_is_deterministic(trained: TrainResult, synthetic_dataset: Path, tmp_path: Path) -> None:
    again = train_package(synthetic_dataset, tmp_path / "again", config=FAST)
    assert again.package.metadata.model_sha256 == trained.package.metadata.model_sha256
    assert (tmp_path / "again" / "model.onnx").read_bytes() == (
        trained.package.path / "model.onnx"
    ).read_bytes()


def test_fusion_and_nuisance_copies_are_checked_before_any_work(
    synthetic_dataset: Path, tmp_path: Path
) -> None:
    from dataclasses import replace

    with pytest.raises(InputError, match="fusion"):
        train_package(synthetic_dataset, tmp_path / "a", config=replace(FAST, fusion="mean"))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="nuisance_copies"):
        train_package(synthetic_dataset, tmp_path / "b", config=replace(FAST, nuisance_copies=9))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_nuisance_copies_are_fitted_deterministically_and_recorded(
    synthetic_dataset: Path, tmp_path: Path
) -> None:
    from dataclasses import replace

    config = replace(FAST, nuisance_copies=1)
    first = train_package(synthetic_dataset, tmp_path / "one", config=config)
    again = train_package(synthetic_dataset, tmp_path / "two", config=config)
    meta = first.package.metadata
    assert meta.parameters["nuisance_copies"] == 1 and meta.parameters["fusion"] == "max"
    assert "with 1 nuisance copy each" in meta.training_data.description
    assert meta.model_sha256 == again.package.metadata.model_sha256  # the copies are seeded
    assert meta.evaluation.parity_max_abs_diff is not None and meta.evaluation.parity_max_abs_diff <= 1e-4
    assert evaluate_package(first.package.path, synthetic_dataset, threads=1).image_auroc >= 0.9


def _global_z(fitted: FittedDetector, batch: np.ndarray) -> np.ndarray:
    """Standardised global-branch distance of prepared images, as the graph computes it."""
    head = fitted.detector.head
    with torch.no_grad():
        emb, desc = head.image_parts(fitted.detector.backbone, torch.from_numpy(batch))
        gdist = head.raw_from_parts(emb, desc)[1]
    return ((gdist - head.norm[2]) / head.norm[3]).numpy()


def test_global_lowpass_runs_in_the_graph_and_ignores_blur(
    trained: TrainResult, synthetic_dataset: Path, tmp_path: Path
) -> None:
    import cv2
    import onnx

    # The default package (``trained``) low-passes the global branch's input; parity on every
    # test image and byte-identical retraining are the tests above, run on it.
    assert trained.package.metadata.parameters["global_lowpass"] == 2.5
    assert trained.package.metadata.parameters["global_step"] == 1
    plain = train_package(synthetic_dataset, tmp_path / "plain", config=replace(FAST, global_lowpass=0.0))
    assert plain.package.metadata.parameters["global_lowpass"] == 0.0

    def lowpass_ops(result: TrainResult) -> set[str]:
        graph = onnx.load(str(result.package.path / "model.onnx")).graph
        return {n.op_type for n in graph.node if n.name.startswith("/global_input/")}

    # the separable Gaussian, in the one graph: banded matrix products (``lowpass``), no convolution
    assert "MatMul" in lowpass_ops(trained)
    assert "Conv" not in lowpass_ops(trained)
    assert lowpass_ops(plain) == set()
    assert evaluate_package(plain.package.path, synthetic_dataset, threads=1).image_auroc >= 0.9
    # a 1-px blur of good images moves the low-passed global branch less than the plain one
    goods = [i.path for i in scan_dataset(synthetic_dataset).test if not i.is_defect]
    sharp = load_inputs(goods, 128)
    blurred = np.stack(
        [cv2.GaussianBlur(im.transpose(1, 2, 0), (0, 0), 1.0).transpose(2, 0, 1) for im in sharp]
    )
    moved = {
        name: float(np.abs(_global_z(r.fitted, blurred) - _global_z(r.fitted, sharp)).mean())
        for name, r in (("plain", plain), ("lowpass", trained))
    }
    assert moved["lowpass"] < 0.5 * moved["plain"], moved


def test_global_lowpass_settings_are_checked_before_any_work(synthetic_dataset: Path, tmp_path: Path) -> None:
    for bad, match in (
        (replace(FAST, global_lowpass=-1.0), "global_lowpass"),
        (replace(FAST, global_lowpass=20.0), "global_lowpass"),
        (replace(FAST, global_lowpass=1.5, global_step=3), "global_step"),
        (replace(FAST, global_lowpass=1.5, global_step=2), "multiple of 128"),  # 128 / 2 = 64 px
        (replace(FAST, global_lowpass=0.0, global_step=2, image_size=256), "needs a low-pass"),
    ):
        with pytest.raises(InputError, match=match):
            train_package(synthetic_dataset, tmp_path / "x", config=bad)
    assert not (tmp_path / "x").exists()


def test_local_fit_settings_are_checked_before_any_work(synthetic_dataset: Path, tmp_path: Path) -> None:
    for bad, match in (
        (replace(FAST, local_neighbourhood=-1), "local_neighbourhood"),
        (replace(FAST, local_neighbourhood=3), "local_neighbourhood"),
        (replace(FAST, local_shrink_floor=-0.1), "local_shrink_floor"),
        (replace(FAST, local_shrink_floor=1.5), "local_shrink_floor"),
        (replace(FAST, local_grid_ridge=-0.1), "local_grid_ridge"),
        (replace(FAST, local_grid_ridge=1.5), "local_grid_ridge"),
        (replace(FAST, local_pool=0), "local_pool"),
        (replace(FAST, local_pool=3), "local_pool"),
        (replace(FAST, local_position_norm=True, local_position_floor=1.0), "local_position_floor"),
        (replace(FAST, local_position_floor=0.5), "needs local_position_norm=True"),
    ):
        with pytest.raises(InputError, match=match):
            train_package(synthetic_dataset, tmp_path / "x", config=bad)
        assert not (tmp_path / "x").exists()


def test_the_other_local_fit_is_selectable_recorded_and_exported_exactly(
    trained: TrainResult, synthetic_dataset: Path, tmp_path: Path
) -> None:
    default = trained.package.metadata.parameters
    other = replace(
        FAST,
        local_neighbourhood=0 if FAST.local_neighbourhood else 1,
        local_shrink_floor=0.0 if FAST.local_shrink_floor else 0.1,
        local_grid_ridge=0.0 if FAST.local_grid_ridge else 0.1,
    )
    result = train_package(synthetic_dataset, tmp_path / "other", config=other)
    meta = result.package.metadata
    keys = ("local_neighbourhood", "local_shrink_floor", "local_grid_ridge")
    assert tuple(default[k] for k in keys) == (
        FAST.local_neighbourhood,
        FAST.local_shrink_floor,
        FAST.local_grid_ridge,
    )
    assert tuple(meta.parameters[k] for k in keys) == (
        other.local_neighbourhood,
        other.local_shrink_floor,
        other.local_grid_ridge,
    )
    assert meta.model_sha256 != trained.package.metadata.model_sha256  # another fit, not the default's
    assert meta.evaluation.parity_max_abs_diff is not None and meta.evaluation.parity_max_abs_diff <= 1e-4
    assert evaluate_package(result.package.path, synthetic_dataset, threads=1).image_auroc >= 0.9


def test_a_pooled_local_grid_is_selectable_recorded_and_exported_exactly(
    trained: TrainResult, synthetic_dataset: Path, tmp_path: Path
) -> None:
    # local_pool = 2 (#24 tenth session, latency): a quarter of the grid positions, each
    # with its own Gaussian; the default keeps the finest map's grid.
    assert trained.package.metadata.parameters["local_pool"] == 1
    assert trained.fitted.detector.head.grid == (16, 16)  # stride 8 at 128 px
    result = train_package(synthetic_dataset, tmp_path / "pooled", config=replace(FAST, local_pool=2))
    meta = result.package.metadata
    assert meta.parameters["local_pool"] == 2
    head = result.fitted.detector.head
    assert head.grid == (8, 8) and tuple(head.local_mean.shape) == (64, 128)
    assert meta.evaluation.parity_max_abs_diff is not None and meta.evaluation.parity_max_abs_diff <= 1e-4
    runner = OnnxModelRunner(result.package.path, threads=1)
    paths = [i.path for i in scan_dataset(synthetic_dataset).test]
    torch_scores, torch_maps = result.fitted.score(load_inputs(paths, 128))
    for path, t_score, t_map in zip(paths, torch_scores, torch_maps, strict=True):
        scores = runner.infer(read_image(path))
        assert abs(scores.anomaly_score - float(t_score)) <= 1e-4, path
        assert scores.anomaly_map.shape == (128, 128)
        assert np.abs(scores.anomaly_map - t_map).max() <= 1e-3, path


def test_the_half_resolution_global_pass_with_a_pooled_grid_is_selectable_recorded_exported_and_repeatable(
    synthetic_dataset: Path, tmp_path: Path
) -> None:
    import onnx
    from onnx import shape_inference

    # global_step = 2 with local_pool = 2 (#24 eleventh session, latency): the global pass on a
    # half-resolution copy of the low-passed image, the local grid at stride 16. At 256 px,
    # since the half-resolution pass needs a side of 128 px (the 128-px FAST config refuses it).
    config = replace(FAST, image_size=256, global_step=2, local_pool=2)
    result = train_package(synthetic_dataset, tmp_path / "cheap", config=config)
    meta = result.package.metadata
    assert (meta.parameters["global_step"], meta.parameters["local_pool"]) == (2, 2)
    assert meta.parameters["global_lowpass"] == 2.5
    head = result.fitted.detector.head
    assert head.grid == (16, 16) and tuple(head.local_mean.shape) == (256, 128)
    # the exported graph runs the trunk's stem on the full image and on a 128-px copy
    model = shape_inference.infer_shapes(onnx.load(str(result.package.path / "model.onnx")))
    shapes = {v.name: v.type.tensor_type.shape.dim for v in model.graph.value_info}
    stem_heights = sorted(
        shapes[n.input[0]][2].dim_value for n in model.graph.node if n.name.endswith("stem.0/Conv")
    )
    assert stem_heights == [128, 256]
    assert meta.evaluation.parity_max_abs_diff is not None and meta.evaluation.parity_max_abs_diff <= 1e-4
    runner = OnnxModelRunner(result.package.path, threads=1)
    paths = [i.path for i in scan_dataset(synthetic_dataset).test]
    torch_scores, torch_maps = result.fitted.score(load_inputs(paths, 256))
    for path, t_score, t_map in zip(paths, torch_scores, torch_maps, strict=True):
        scores = runner.infer(read_image(path))
        assert abs(scores.anomaly_score - float(t_score)) <= 1e-4, path
        assert scores.anomaly_map.shape == (256, 256)
        assert np.abs(scores.anomaly_map - t_map).max() <= 1e-3, path
    assert evaluate_package(result.package.path, synthetic_dataset, threads=1).image_auroc >= 0.9
    again = train_package(synthetic_dataset, tmp_path / "again", config=config)
    assert again.package.metadata.model_sha256 == meta.model_sha256  # deterministic training


def test_the_position_norm_is_selectable_recorded_and_exported_exactly(
    trained: TrainResult, synthetic_dataset: Path, tmp_path: Path
) -> None:
    assert trained.package.metadata.parameters["local_position_norm"] is False
    assert trained.package.metadata.parameters["local_position_floor"] == 0.0
    assert not trained.fitted.detector.head.position_norm  # the default graph has no such step
    # with the unit floored at the grid's median (#24 eleventh session)
    result = train_package(
        synthetic_dataset,
        tmp_path / "pos",
        config=replace(FAST, local_position_norm=True, local_position_floor=0.5),
    )
    meta = result.package.metadata
    head = result.fitted.detector.head
    assert meta.parameters["local_position_norm"] is True and head.position_norm
    assert meta.parameters["local_position_floor"] == 0.5
    # the fit images' own distances, standardised by it, have mean 0 at every position and sd
    # 1 where their spread is at least the grid's median, below 1 where it is smaller
    fit = load_inputs(result.fitted.fit_paths, FAST.image_size)
    with torch.no_grad():
        emb, _ = head.image_parts(result.fitted.detector.backbone, torch.from_numpy(fit))
        z = head.local_distance(emb).numpy().astype(np.float64)
    sd = z.std(0)
    assert np.allclose(z.mean(0), 0, atol=1e-3)
    assert (sd <= 1 + 1e-3).all()
    assert np.isclose(sd, 1, atol=1e-3).mean() >= 0.5  # the busy half keeps its own unit
    assert (sd < 0.99).any()  # and the quiet positions are not stretched to 1
    assert meta.model_sha256 != trained.package.metadata.model_sha256
    assert meta.evaluation.parity_max_abs_diff is not None and meta.evaluation.parity_max_abs_diff <= 1e-4
    assert evaluate_package(result.package.path, synthetic_dataset, threads=1).image_auroc >= 0.9


def test_a_package_from_before_the_local_fit_settings_loads_and_scores_the_same(
    trained: TrainResult, synthetic_dataset: Path, tmp_path: Path
) -> None:
    # Packages keep the fitted statistics in the graph; nothing refits or reads these
    # settings at inference. A package written before they existed lacks their keys.
    old = tmp_path / "old"
    shutil.copytree(trained.package.path, old)
    raw = json.loads((old / "metadata.json").read_text())
    for key in ("local_neighbourhood", "local_shrink_floor", "local_grid_ridge"):
        del raw["parameters"][key]
    (old / "metadata.json").write_text(json.dumps(raw))
    assert "local_neighbourhood" not in load_package(old).metadata.parameters
    paths = [i.path for i in scan_dataset(synthetic_dataset).test][:8]
    now, before = OnnxModelRunner(trained.package.path, threads=1), OnnxModelRunner(old, threads=1)
    for path in paths:
        a, b = now.infer(read_image(path)), before.infer(read_image(path))
        assert a.anomaly_score == b.anomaly_score, path
        assert np.array_equal(a.anomaly_map, b.anomaly_map), path


def test_the_small_sample_threshold_rule_is_selectable_checked_and_leaves_the_graph_alone(
    trained: TrainResult, synthetic_dataset: Path, tmp_path: Path
) -> None:
    """Few held-out goods (this set holds out fewer than 100): "tail" extrapolates a fitted
    Gaussian tail instead of taking their maximum; only the threshold moves."""
    with pytest.raises(InputError, match="threshold_small_sample"):
        bad = replace(FAST, threshold_small_sample="mean")  # type: ignore[arg-type]
        train_package(synthetic_dataset, tmp_path / "x", config=bad)
    assert not (tmp_path / "x").exists()
    other_rule = "max" if FAST.threshold_small_sample == "tail" else "tail"
    config = replace(FAST, threshold_small_sample=other_rule)
    result = train_package(synthetic_dataset, tmp_path / "other", config=config)
    before, after = trained.package.metadata, result.package.metadata
    assert after.parameters["threshold_small_sample"] == other_rule
    assert after.model_sha256 == before.model_sha256  # the same graph: only the threshold differs
    hold = result.fitted.holdout_scores
    assert len(hold) < 100
    rules = {FAST.threshold_small_sample: before.threshold, other_rule: after.threshold}
    assert rules["max"].value == pytest.approx(float(hold.max()))
    assert rules["tail"].value == pytest.approx(gaussian_tail_threshold(hold, 0.01))
    assert rules["tail"].value > rules["max"].value
    assert "Gaussian tail" in rules["tail"].note and "maximum of" in rules["max"].note
