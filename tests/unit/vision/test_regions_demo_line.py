"""Regions outline the defect the synthetic line drew, not the ROI crop (issue #14).

A model is trained the demo's way (``write_mvtec_dataset`` crops of the line's ROI; fewer
images and a 128 px input so it trains in under a minute), then defective parts of the
line are judged by the node's own steps (ROI crop, ONNX runner, ``defect_regions``) and
each failing part's first box is compared with the box the line knows it drew.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lineguard.config.edge import SyntheticSource
from lineguard.contracts.events import BoundingBox, Verdict
from lineguard.contracts.types import Scores
from lineguard.edge.capture import SyntheticLine, write_mvtec_dataset
from lineguard.edge.decide import classify, defect_regions
from lineguard.vision.package import load_package
from lineguard.vision.runtime import OnnxModelRunner
from lineguard.vision.train import TrainConfig, train_package

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def line_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo-line")
    data = write_mvtec_dataset(
        root / "data", n_train_good=48, n_test_good=1, n_test_per_defect=1, size=128, seed=7
    )
    config = TrainConfig(image_size=128, threads=2, model_id="demo-line-regions")
    return train_package(data, root / "model", config=config).package.path


def _overlap(a: BoundingBox, b: BoundingBox) -> int:
    w = min(a.x + a.width, b.x + b.width) - max(a.x, b.x)
    h = min(a.y + a.height, b.y + b.height) - max(a.y, b.y)
    return max(w, 0) * max(h, 0)


def test_package_stores_the_good_parts_region_level(line_model: Path) -> None:
    regions = load_package(line_model).metadata.regions
    assert regions.pixel_threshold > 0
    assert regions.validation_good_count == 7  # 15 % of 48 held out by name hash


def test_a_failing_parts_box_lands_on_the_drawn_defect_and_is_small(line_model: Path) -> None:
    runner = OnnxModelRunner(line_model, threads=2)
    line = SyntheticLine(
        "cam-1", SyntheticSource(type="synthetic", seed=7, defect_rate=1.0, person_rate=0.0), realtime=False
    )
    roi = line.part_roi()
    roi_area = roi.width * roi.height
    failing = on_target = 0
    shares: list[float] = []
    for part in range(16):
        frame_id = part * line.frames_per_part + 2  # a frame with the part well inside the ROI
        truth = line.truth(frame_id)
        assert truth.defect_box is not None
        image = line.render(frame_id)
        scores = runner.infer(image[roi.y : roi.y + roi.height, roi.x : roi.x + roi.width])
        if classify(scores.anomaly_score, runner.threshold, 0.0) is not Verdict.FAIL:
            continue
        failing += 1
        first = defect_regions(scores, roi)[0]
        on_target += _overlap(first.bbox, truth.defect_box) > 0
        shares.append(first.bbox.width * first.bbox.height / roi_area)
    assert failing >= 12, failing
    assert on_target == failing  # every failing part's first box touches the drawn defect
    assert float(np.median(shares)) <= 0.1, shares  # a box around the defect, not the crop
    assert max(shares) < 0.5, shares


def test_a_part_unusual_only_as_a_whole_gets_one_region_covering_the_roi() -> None:
    """Nothing in the map rises above what good parts reach: no box around noise."""
    roi = BoundingBox(x=10, y=20, width=300, height=200)
    amap = np.full((32, 32), 12.0, np.float32)
    amap[3, 3] = 12.5
    scores = Scores(anomaly_score=12.5, anomaly_map=amap, region_threshold=1.0)
    (region,) = defect_regions(scores, roi)
    assert region.bbox == roi and region.score == 12.5 and region.defect_class == "anomaly"
    named = Scores(
        anomaly_score=12.5, anomaly_map=amap, region_threshold=1.0, region_classifier=lambda m: "dent"
    )
    assert defect_regions(named, roi)[0].defect_class == "dent"
