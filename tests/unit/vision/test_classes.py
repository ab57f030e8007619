"""Named defect classes: prototypes, the unknown cut-off, the package, the edge's region classing."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from lineguard.contracts.errors import DatasetError, InputError, ModelError
from lineguard.contracts.events import BoundingBox
from lineguard.edge.decide import defect_regions
from lineguard.edge.pipeline.batching import BatchingRunner
from lineguard.vision.calibration import describe_operating_point
from lineguard.vision.classes import (
    UNKNOWN_CLASS,
    DefectClassifier,
    class_name_of_folder,
    main_region_mask,
    region_vector,
)
from lineguard.vision.classfit import fit_classes, labelled_vectors
from lineguard.vision.package import load_package
from lineguard.vision.preprocess import read_image
from lineguard.vision.runtime import OnnxModelRunner
from lineguard.vision.train import TrainResult, load_inputs, train_package
from tests.support.synthetic_parts import render_part
from tests.unit.vision.conftest import FAST


def _clusters(k: int, seed: int = 0) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Three well-separated unit-vector clusters in 16-d, k examples each, and a fourth held out."""
    rng = np.random.default_rng(seed)
    centres = np.eye(16)[:4] * 3
    vecs, labels = [], []
    for i, name in enumerate(("crack", "dent", "hole")):
        for _ in range(k):
            v = centres[i] + rng.normal(0, 0.3, 16)
            vecs.append(v / np.linalg.norm(v))
            labels.append(name)
    held = centres[3] + rng.normal(0, 0.3, (20, 16))
    return np.asarray(vecs), labels, held / np.linalg.norm(held, axis=1, keepdims=True)


@pytest.mark.parametrize("k", [1, 5])
def test_nearest_prototype_names_known_types_and_calls_an_unlabelled_type_unknown(k: int) -> None:
    vecs, labels, held = _clusters(k)
    spec = fit_classes(vecs, labels)
    clf = DefectClassifier(spec)
    assert spec.names == ["crack", "dent", "hole"]
    assert spec.examples == {"crack": k, "dent": k, "hole": k}
    fresh, fresh_labels, _ = _clusters(4, seed=1)
    assert clf.assign(fresh) == fresh_labels
    assert clf.assign(held) == [UNKNOWN_CLASS] * len(held)
    assert ("leave-one-out" in spec.cutoff_method) == (k > 1)


def test_fitting_is_deterministic_and_refuses_a_single_example() -> None:
    vecs, labels, _ = _clusters(3)
    assert fit_classes(vecs, labels) == fit_classes(vecs.copy(), list(labels))
    with pytest.raises(DatasetError, match="at least two classes"):
        fit_classes(vecs[:1], labels[:1])
    with pytest.raises(DatasetError, match="one region vector per label"):
        fit_classes(vecs, labels[:-1])


def test_a_class_name_not_in_the_package_is_refused_naming_the_known_ones() -> None:
    vecs, labels, _ = _clusters(2)
    clf = DefectClassifier(fit_classes(vecs, labels))
    assert clf.check_name("dent") == "dent"
    assert clf.check_name(UNKNOWN_CLASS) == UNKNOWN_CLASS
    with pytest.raises(
        InputError, match=r"'scratch' is not in this model package; it knows crack, dent, hole"
    ):
        clf.check_name("scratch")
    with pytest.raises(ModelError, match="region vectors have 8 features, the package's classes 16"):
        clf.assign(np.ones((1, 8)))


@pytest.mark.parametrize("folder", ["Blow Hole", "_x", "good", "anomaly", "unknown_anomaly", "ü"])
def test_defect_folders_that_cannot_be_class_names_are_refused(folder: str) -> None:
    with pytest.raises(InputError, match=repr(folder)):
        class_name_of_folder(folder)
    assert class_name_of_folder("Blowhole") == "blowhole"


def test_region_vector_weights_cells_by_coverage_and_main_region_holds_the_peak() -> None:
    feats = np.zeros((2, 4, 4), np.float32)
    feats[0, :2, :2] = 1.0  # top-left quadrant points one way
    feats[1, 2:, 2:] = 1.0  # bottom-right another
    mask = np.zeros((32, 32), bool)
    mask[:16, :16] = True
    np.testing.assert_allclose(region_vector(feats, mask), [1.0, 0.0])
    with pytest.raises(InputError, match="non-empty"):
        region_vector(feats, np.zeros((32, 32), bool))
    amap = np.zeros((32, 32), np.float32)
    amap[2:6, 2:6] = 5.0
    amap[20:30, 20:30] = 3.0
    main = main_region_mask(amap, pixel_threshold=1.0)
    assert main[3, 3] and not main[25, 25] and main.sum() == 16
    # A defect whose peak rises less than a good part's: the half-maximum blob still.
    assert main_region_mask(amap, pixel_threshold=10.0).sum() == 16
    # Nothing stands out: the whole image.
    assert main_region_mask(np.ones((8, 8), np.float32)).all()


def _with_labelled_defects(src: Path, dst: Path, k: int) -> Path:
    shutil.copytree(src, dst)
    rng = np.random.default_rng(42)
    for defect in ("hole", "scratch"):
        for i in range(k):
            path = dst / "train" / defect / f"l{i:02d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), render_part(rng, defect=defect)[0])
    return dst


@pytest.fixture(scope="module")
def classed(synthetic_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    root = _with_labelled_defects(synthetic_dataset, tmp_path_factory.mktemp("classes") / "parts", k=4)
    return train_package(root, tmp_path_factory.mktemp("pkg") / "model", config=FAST)


def test_training_picks_up_train_defect_folders_and_the_package_carries_the_classes(
    classed: TrainResult,
) -> None:
    meta = load_package(classed.package.path).metadata
    assert meta.defect_classes is not None
    assert meta.defect_classes.names == ["hole", "scratch"]
    assert meta.defect_classes.examples == {"hole": 4, "scratch": 4}
    assert meta.class_names == ["hole", "scratch", UNKNOWN_CLASS]
    assert meta.outputs.region_features == "region_features"
    assert meta.evaluation.parity_max_abs_diff is not None and meta.evaluation.parity_max_abs_diff <= 1e-4
    assert "defect classes from 8 labelled images" in meta.training_data.description
    # no validation/<defect>: the goods' quantile stays the threshold, and the 8 labelled
    # examples measure the recall it buys, which the operating point then states
    assert meta.threshold.method == "good_quantile"
    assert meta.threshold.validation_defect_count == 8
    assert meta.threshold.validation_recall is not None and meta.threshold.validation_recall_ci is not None
    assert "expected recall" in describe_operating_point(meta.threshold)


def test_edge_regions_carry_the_package_classes(classed: TrainResult, synthetic_dataset: Path) -> None:
    runner = OnnxModelRunner(classed.package.path, threads=1)
    assert runner.defect_classes is not None
    hits = total = 0
    for defect in ("hole", "scratch"):
        for path in sorted((synthetic_dataset / "test" / defect).iterdir()):
            image = read_image(path)
            scores = runner.infer(image)
            roi = BoundingBox(x=0, y=0, width=image.shape[1], height=image.shape[0])
            regions = defect_regions(scores, roi)
            names = {r.defect_class for r in regions}
            assert names <= {"hole", "scratch", UNKNOWN_CLASS}
            if regions:
                total += 1
                hits += regions[0].defect_class == defect
    assert total >= 8
    assert hits / total >= 0.75, (hits, total)


def test_a_package_without_classes_still_calls_regions_anomaly(
    trained: TrainResult, synthetic_dataset: Path
) -> None:
    runner = OnnxModelRunner(trained.package.path, threads=1)
    assert runner.defect_classes is None
    assert load_package(trained.package.path).metadata.class_names == ["anomaly"]
    image = read_image(sorted((synthetic_dataset / "test" / "hole").iterdir())[0])
    scores = runner.infer(image)
    assert scores.region_classifier is None
    regions = defect_regions(scores, BoundingBox(x=0, y=0, width=image.shape[1], height=image.shape[0]))
    assert {r.defect_class for r in regions} <= {"anomaly"}


def test_a_badly_named_defect_folder_stops_training_before_anything_is_written(
    synthetic_dataset: Path, tmp_path: Path
) -> None:
    root = _with_labelled_defects(synthetic_dataset, tmp_path / "parts", k=1)
    (root / "train" / "hole").rename(root / "train" / "Blow Hole")
    with pytest.raises(InputError, match="'Blow Hole' is not a usable class name"):
        train_package(root, tmp_path / "model", config=FAST)
    assert not (tmp_path / "model").exists()


def test_metadata_with_classes_but_no_feature_output_is_refused(classed: TrainResult, tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    shutil.copytree(classed.package.path, pkg)
    meta = (
        (pkg / "metadata.json")
        .read_text()
        .replace('"region_features": "region_features"', '"region_features": null')
    )
    (pkg / "metadata.json").write_text(meta)
    with pytest.raises(ModelError, match="names no region_features output"):
        OnnxModelRunner(pkg, threads=1)


def test_the_batching_runner_keeps_the_region_classifier(
    classed: TrainResult, synthetic_dataset: Path
) -> None:
    runner = OnnxModelRunner(classed.package.path, threads=1)
    batched = BatchingRunner(runner, max_batch=2)
    image = read_image(sorted((synthetic_dataset / "test" / "scratch").iterdir())[0])
    direct, via_batch = runner.infer(image), batched.infer(image)
    assert via_batch.region_classifier is not None
    assert via_batch.anomaly_score == pytest.approx(direct.anomaly_score, abs=1e-5)
    roi = BoundingBox(x=0, y=0, width=image.shape[1], height=image.shape[0])
    assert [r.defect_class for r in defect_regions(via_batch, roi)] == [
        r.defect_class for r in defect_regions(direct, roi)
    ]


def test_region_vectors_from_onnx_match_the_in_process_detector(
    classed: TrainResult, synthetic_dataset: Path
) -> None:
    runner = OnnxModelRunner(classed.package.path, threads=1)
    paths = sorted((synthetic_dataset / "test" / "scratch").iterdir())[:4]
    batch = load_inputs(paths, FAST.image_size)
    level = runner.metadata.regions.pixel_threshold
    assert level == classed.fitted.region_level > 0
    in_process = labelled_vectors(classed.fitted.detector, batch, level)
    _, maps, feats = runner._run(batch, with_features=True)
    via_onnx = np.stack(
        [region_vector(f, main_region_mask(m, level)) for m, f in zip(maps, feats, strict=True)]
    )
    assert np.abs(in_process - via_onnx).max() <= 1e-4
