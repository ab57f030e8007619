"""Stages on the node: each part's decisive frame goes through the camera's stages, their
results travel in the outbox, and the part's verdict is the worst of the model's and theirs."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from lineguard.config.stages import GaugingStageConfig
from lineguard.contracts.events import AlertKind, BoundingBox, IngestBatch, PartVerdict, Verdict
from lineguard.contracts.stages import StageKind, StageReason, StageResult
from lineguard.contracts.types import CapturedFrame, InspectionStage, MultiViewStage, StageOutcome
from lineguard.edge.decide import StationMonitor
from lineguard.edge.infer import StaticRunner
from lineguard.edge.outbox import Outbox, build_batch
from lineguard.edge.pipeline import Arrival, CameraStats, InspectWorker
from lineguard.edge.stages import ScriptedStage, ScriptedViewsStage
from tests.unit.edge.support import camera, edge_config

START = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
PASS = StageOutcome(Verdict.PASS)
FAIL = StageOutcome(
    Verdict.FAIL,
    reasons=(StageReason(code="out_of_tolerance", subject="hole_a", message="8.31 mm above 8.10 mm"),),
)


def _image(fid: int = 0) -> np.ndarray:
    image = np.full((240, 320, 3), 30, np.uint8)
    image[80:160, 100:220] = 200  # a bright part inside the frame, on a dark belt
    image[0, 0, 0] = fid  # which frame it is (a stage's view is told by it)
    return image


def _worker(
    tmp_path: Path,
    stages: list[InspectionStage],
    score: float = 0.0,
    parts: dict[str, Any] | None = None,
) -> tuple[InspectWorker, Outbox]:
    parts = {"id_source": "line"} if parts is None else parts
    config = edge_config(tmp_path / "node", [camera("cam-1", tmp_path / "model", parts=parts)])
    outbox = Outbox(tmp_path / "outbox.db")
    worker = InspectWorker(
        threading.Event(),
        node=config.node,
        camera=config.cameras[0],
        runner=StaticRunner(score=score, threshold=0.5),
        model_version=1,
        queue=None,  # type: ignore[arg-type]  # frames are handed to inspect() directly
        stats=CameraStats("cam-1"),
        outbox=outbox,
        gate=None,
        monitor=StationMonitor(),
        stages=stages,
    )
    return worker, outbox


def _parts(worker: InspectWorker, part_ids: list[str], frames_each: int = 3) -> None:
    fid = 0
    for part in [*part_ids, "next"]:  # the next part closes the last one
        for _ in range(frames_each):
            captured = CapturedFrame("cam-1", fid, START + timedelta(seconds=fid), _image(fid), part_id=part)
            worker.inspect(Arrival(captured, time.perf_counter_ns()))
            fid += 1


def _sent(outbox: Outbox) -> IngestBatch:
    return build_batch("node-1", outbox.pending(500))


def test_a_failing_stage_fails_a_part_the_model_passed(tmp_path: Path) -> None:
    stage = ScriptedStage([PASS, FAIL])
    worker, outbox = _worker(tmp_path, [stage])
    _parts(worker, ["P-1", "P-2"])
    batch = _sent(outbox)
    parts = {p.part_id: p for p in batch.parts}
    assert parts["P-1"].verdict is Verdict.PASS and parts["P-2"].verdict is Verdict.FAIL
    assert parts["P-2"].anomaly_score == 0.0  # the model passed it: the stage failed it
    results = {r.part_verdict_id: r for r in batch.stage_results}
    assert set(results) == {p.part_verdict_id for p in batch.parts}
    failed = results[parts["P-2"].part_verdict_id]
    assert failed.verdict is Verdict.FAIL and failed.reasons[0].subject == "hole_a"
    assert [(s.stage, s.verdict, s.result_id) for s in parts["P-2"].stages] == [
        ("scripted", Verdict.FAIL, failed.result_id)
    ]
    (alert,) = batch.alerts
    assert alert.kind is AlertKind.DEFECT and alert.defect_class == "gauging"
    # The stage judged the part's decisive frame, in the camera's ROI (here the whole frame).
    assert stage.seen == [BoundingBox(x=0, y=0, width=320, height=240)] * 2
    assert worker.stats.part_verdicts == {"pass": 1, "fail": 1, "uncertain": 0}
    outbox.close()


def test_a_multi_view_stage_gets_every_complete_frame_of_the_part_decisive_first(tmp_path: Path) -> None:
    views, plain = ScriptedViewsStage([PASS], name="views"), ScriptedStage([PASS], name="plain")
    worker, outbox = _worker(tmp_path, [views, plain])
    _parts(worker, ["P-1", "P-2"], frames_each=4)
    # Equal scores: the decisive frame is the part's first complete one, then the rest in order.
    assert [[int(image[0, 0, 0]) for image in call] for call in views.views] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(plain.seen) == 2  # a one-image stage still judges the decisive frame only
    assert worker.parts.max_views > 1
    assert isinstance(views, MultiViewStage) and not isinstance(plain, MultiViewStage)
    outbox.close()


def test_a_result_names_every_frame_it_rests_on_and_a_one_frame_stage_its_decisive_frame(
    tmp_path: Path,
) -> None:
    """A multi-view stage that used views 2, 0 and 3 (say, most centred first): its result names those
    frames in that order; frame_id stays the decisive frame."""
    views = ScriptedViewsStage([StageOutcome(Verdict.PASS, views=(2, 0, 3))], name="views")
    plain = ScriptedStage([PASS], name="plain")
    worker, outbox = _worker(tmp_path, [views, plain])
    _parts(worker, ["P-1"], frames_each=4)
    results = {r.stage: r for r in _sent(outbox).stage_results}
    assert (results["views"].frame_id, results["views"].frame_ids) == (0, [2, 0, 3])
    assert results["views"].contributing_frames == [2, 0, 3]
    assert (results["plain"].frame_id, results["plain"].frame_ids) == (0, [])
    assert results["plain"].contributing_frames == [0]
    outbox.close()


@pytest.mark.parametrize("named", [(0, 4), (1, 1), (-1,), tuple(range(17))])
def test_a_stage_naming_views_it_was_not_given_is_a_stage_error(
    tmp_path: Path, named: tuple[int, ...]
) -> None:
    stage = ScriptedViewsStage([StageOutcome(Verdict.PASS, views=named)], name="gauge")
    worker, outbox = _worker(tmp_path, [stage])
    _parts(worker, ["P-1"], frames_each=4)
    batch = _sent(outbox)
    (part,), (result,) = batch.parts, batch.stage_results
    assert part.verdict is Verdict.UNCERTAIN and result.frame_ids == []
    assert result.reasons[0].code == "stage_error" and "of the 4 it was given" in result.reasons[0].message
    assert worker.stages.errors == {"gauge": 1}
    outbox.close()


def test_parts_judged_on_fewer_frames_than_expected_are_marked_counted_and_sent_to_review(
    tmp_path: Path,
) -> None:
    worker, outbox = _worker(
        tmp_path,
        [],
        score=0.9,  # every frame fails
        parts={"id_source": "line", "expected_frames_per_part": 5, "min_frames_per_part": 3},
    )
    fid = 0
    for part, frames in [("P-5", 5), ("P-4", 4), ("P-2", 2), ("next", 1)]:
        for _ in range(frames):
            captured = CapturedFrame("cam-1", fid, START + timedelta(seconds=fid), _image(fid), part_id=part)
            worker.inspect(Arrival(captured, time.perf_counter_ns()))
            fid += 1
    parts = {p.part_id: p for p in _sent(outbox).parts}
    assert [
        (parts[k].frames_fused, parts[k].frames_expected, parts[k].views_short, parts[k].verdict)
        for k in ("P-5", "P-4", "P-2")
    ] == [
        (5, 5, False, Verdict.FAIL),
        (4, 5, True, Verdict.FAIL),  # short, still automatic: 4 >= min 3
        (2, 5, True, Verdict.UNCERTAIN),  # too few for an automatic fail: a person decides
    ]
    assert (worker.stats.parts_views_short, worker.stats.parts_short_to_review) == (2, 1)
    outbox.close()


def test_a_camera_whose_stages_read_one_image_keeps_one_image_per_part(tmp_path: Path) -> None:
    worker, outbox = _worker(tmp_path, [ScriptedStage([PASS])])
    assert worker.parts.max_views == 1
    outbox.close()


def test_the_models_fail_stays_a_fail_whatever_the_stages_say(tmp_path: Path) -> None:
    worker, outbox = _worker(tmp_path, [ScriptedStage([PASS])], score=0.9)
    _parts(worker, ["P-1"])
    batch = _sent(outbox)
    (part,) = batch.parts
    assert part.verdict is Verdict.FAIL and part.stages[0].verdict is Verdict.PASS
    assert batch.alerts[0].defect_class == "anomaly"
    outbox.close()


def test_a_stage_that_raises_makes_the_part_uncertain_and_is_counted(tmp_path: Path) -> None:
    worker, outbox = _worker(tmp_path, [ScriptedStage([RuntimeError("bug")], name="gauge")])
    _parts(worker, ["P-1"])
    batch = _sent(outbox)
    (part,), (result,) = batch.parts, batch.stage_results
    assert part.verdict is Verdict.UNCERTAIN
    assert (result.reasons[0].code, result.reasons[0].subject) == ("stage_error", "gauging")
    assert worker.stages.errors == {"gauge": 1}
    outbox.close()


def test_a_camera_without_stages_sends_no_stage_results(tmp_path: Path) -> None:
    worker, outbox = _worker(tmp_path, [])
    _parts(worker, ["P-1"])
    batch = _sent(outbox)
    assert batch.stage_results == [] and batch.parts[0].stages == []
    outbox.close()


def test_every_stage_implementation_conforms_to_the_protocol() -> None:
    assert isinstance(ScriptedStage([PASS]), InspectionStage)


def test_a_part_verdict_milder_than_one_of_its_stages_is_refused() -> None:
    worker_fields = {
        "stage": "gauge",
        "kind": StageKind.GAUGING,
        "verdict": "fail",
        "result_id": "stg-1",
    }
    with pytest.raises(ValidationError, match="milder than a stage"):
        PartVerdict.model_validate(_part(verdict="pass", stages=[worker_fields]))
    with pytest.raises(ValidationError, match="listed twice"):
        PartVerdict.model_validate(_part(verdict="fail", stages=[worker_fields, worker_fields]))
    assert (
        PartVerdict.model_validate(_part(verdict="fail", stages=[worker_fields])).stages[0].stage == "gauge"
    )


def test_a_stage_result_that_fails_must_say_why_and_limits_must_be_ordered() -> None:
    base = _result(verdict="fail")
    with pytest.raises(ValidationError, match="needs at least one reason"):
        StageResult.model_validate(base)
    measurement = {"characteristic": "hole_a", "value": 8.0, "uncertainty": 0.01, "unit": "mm"}
    with pytest.raises(ValidationError, match="above upper_limit"):
        StageResult.model_validate(
            base
            | {"verdict": "pass", "measurements": [measurement | {"lower_limit": 8.1, "upper_limit": 7.9}]}
        )
    with pytest.raises(ValidationError, match="finite"):
        StageResult.model_validate(
            base | {"verdict": "pass", "measurements": [measurement | {"value": "nan"}]}
        )
    with pytest.raises(ValidationError, match="Extra inputs"):
        StageResult.model_validate(base | {"verdict": "pass", "image": "AAAA"})
    other_node = StageResult.model_validate(base | {"verdict": "pass", "node_id": "node-2"})
    with pytest.raises(ValidationError, match="differs from batch node_id"):
        IngestBatch(node_id="node-1", sent_at=START, stage_results=[other_node])


def test_views_short_must_agree_with_the_frame_counts_and_old_verdicts_still_validate() -> None:
    old = PartVerdict.model_validate(_part(verdict="pass"))  # a node from before: no such fields
    assert (old.frames_expected, old.views_short) == (None, False)
    short = PartVerdict.model_validate(_part(verdict="pass", frames_expected=5, views_short=True))
    assert short.views_short and short.frames_fused == 3
    cases: list[tuple[dict[str, object], str]] = [
        ({"frames_expected": 5}, "views_short is False but 3 frames were fused of 5 expected"),
        ({"frames_expected": 3, "views_short": True}, "views_short is True"),
        ({"views_short": True}, "views_short is True"),
        ({"frames_expected": 0}, "greater than or equal to 1"),
        ({"frames_expected": "five"}, "valid integer"),
    ]
    for bad, match in cases:
        with pytest.raises(ValidationError, match=match):
            PartVerdict.model_validate(_part(verdict="pass", **bad))


def test_stage_result_frame_ids_are_bounded_unique_and_default_to_frame_id() -> None:
    base = _result()
    assert StageResult.model_validate(base).contributing_frames == [3]  # stored before: frame_id alone
    assert StageResult.model_validate(base | {"frame_ids": [5, 3, 4]}).contributing_frames == [5, 3, 4]
    bad_ids: list[tuple[dict[str, object], str]] = [
        ({"frame_ids": [4, 4]}, r"name frame\(s\) \[4\] more than once"),
        ({"frame_ids": [-1]}, "greater than or equal to 0"),
        ({"frame_ids": list(range(17))}, "at most 16"),
        ({"frame_ids": "1,2"}, "valid list"),
    ]
    for bad, match in bad_ids:
        with pytest.raises(ValidationError, match=match):
            StageResult.model_validate(base | bad)


def _result(**extra: object) -> dict[str, object]:
    return {
        "result_id": "stg-1",
        "idempotency_key": "node-1:stg-1",
        "node_id": "node-1",
        "site_id": "plant-a",
        "line_id": "line-1",
        "station_id": "st-10",
        "camera_id": "cam-1",
        "stage": "gauge",
        "kind": "gauging",
        "frame_id": 3,
        "captured_at": START.isoformat(),
        "verdict": "pass",
        "latency_ms": 1.0,
        **extra,
    }


def _part(**extra: object) -> dict[str, object]:
    return {
        "part_verdict_id": "prt-1",
        "idempotency_key": "node-1:prt-1",
        "node_id": "node-1",
        "site_id": "plant-a",
        "line_id": "line-1",
        "station_id": "st-10",
        "camera_id": "cam-1",
        "id_source": "line",
        "first_frame_id": 0,
        "last_frame_id": 2,
        "first_seen_at": START.isoformat(),
        "last_seen_at": START.isoformat(),
        "frames": 3,
        "frames_fused": 3,
        "model": {"model_id": "m", "version": 1, "sha256": "0" * 64},
        "anomaly_score": 0.0,
        "threshold": 0.5,
        "decisive_event_id": "evt-1",
        **extra,
    }


def test_edge_yaml_refuses_unknown_stage_kinds_and_repeated_stage_names(tmp_path: Path) -> None:
    gauge = {"kind": "gauging", "name": "gauge", "calibration": "c", "signer_key": "k.pem", "spec": "s.yaml"}
    with pytest.raises(ValidationError, match="repeated: gauge"):
        edge_config(tmp_path, [camera("cam-1", tmp_path / "m", stages=[gauge, gauge])])
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        edge_config(tmp_path, [camera("cam-1", tmp_path / "m", stages=[gauge | {"kind": "xray"}])])
    with pytest.raises(ValidationError, match="Extra inputs"):
        edge_config(tmp_path, [camera("cam-1", tmp_path / "m", stages=[gauge | {"tolerance": 1}])])
    config = edge_config(tmp_path, [camera("cam-1", tmp_path / "m", stages=[gauge])])
    (stage,) = config.cameras[0].stages
    assert isinstance(stage, GaugingStageConfig) and stage.max_calibration_age_days == 180
