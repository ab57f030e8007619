"""The label stage on the node: built from edge.yaml, run on each part's decisive frame, its
reasons naming the field in the StageResult, and the part failed by it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from lineguard.contracts.events import BoundingBox, IngestBatch, Verdict
from lineguard.contracts.types import InspectionStage, MultiViewStage
from lineguard.edge.labels import LabelVerifier
from lineguard.edge.labels.render import Degradation
from lineguard.edge.labels.stage import LabelStage, build_label_stage
from lineguard.edge.outbox import build_batch
from lineguard.edge.stages import build_stages
from tests.support.label_node import GOOD, STAGE, label_frame, label_worker, run_parts
from tests.unit.edge.support import camera, edge_config

pytestmark = pytest.mark.slow  # RapidOCR's models load for each worker (~1 s)


def test_parts_are_judged_by_their_label_and_failures_name_the_field(tmp_path: Path) -> None:
    worker, outbox = label_worker(tmp_path)
    run_parts(
        worker,
        [
            ("P-1", label_frame(GOOD)),
            ("P-2", label_frame(GOOD.with_(lot="A99999"))),
            ("P-3", label_frame(GOOD, Degradation(upside_down=True))),
            ("P-4", label_frame(None)),
            ("P-5", label_frame(GOOD.with_(gtin="09501101530004"))),
        ],
    )
    batch = build_batch("node-1", outbox.pending(500))
    IngestBatch.model_validate_json(batch.model_dump_json())  # what leaves the node is a valid message
    parts = {p.part_id: p for p in batch.parts}
    results = {r.part_verdict_id: r for r in batch.stage_results}
    verdicts = {pid: parts[pid].verdict for pid in ("P-1", "P-2", "P-3", "P-4", "P-5")}
    assert verdicts == {"P-1": Verdict.PASS} | dict.fromkeys(("P-2", "P-3", "P-4", "P-5"), Verdict.FAIL)

    def reasons(pid: str) -> set[tuple[str, str]]:
        return {(r.code, r.subject) for r in results[parts[pid].part_verdict_id].reasons}

    assert reasons("P-2") == {("mismatch", "lot")}
    assert ("upside_down", "label") in reasons("P-3")
    assert reasons("P-4") == {("missing", "label")}
    assert ("bad_checksum", "gtin") in reasons("P-5")
    ok = results[parts["P-1"].part_verdict_id]
    assert ok.kind.value == "label" and ok.stage == "carton-label" and ok.inputs[0].name == "expected_label"
    assert all(p.stages[0].kind.value == "label" for p in parts.values())
    assert "A99999" not in batch.model_dump_json()  # what the label said stays on the node
    assert {a.defect_class for a in batch.alerts} == {"label"}
    outbox.close()


def test_an_order_without_an_expected_label_makes_parts_uncertain_not_passed(tmp_path: Path) -> None:
    worker, outbox = label_worker(tmp_path, stage=STAGE | {"order": "PO-UNKNOWN"})
    run_parts(worker, [("P-1", label_frame(GOOD))])
    batch = build_batch("node-1", outbox.pending(500))
    (part,) = [p for p in batch.parts if p.part_id == "P-1"]
    assert part.verdict is Verdict.UNCERTAIN
    (result,) = [r for r in batch.stage_results if r.part_verdict_id == part.part_verdict_id]
    assert [(r.code, r.subject) for r in result.reasons] == [("no_expected_label", "label")]
    outbox.close()


def test_a_region_outside_the_frame_is_uncertain_with_its_reason(tmp_path: Path) -> None:
    config = build_stages(
        edge_config(
            tmp_path,
            [
                camera(
                    "cam-1",
                    tmp_path / "m",
                    stages=[STAGE | {"region": {"x": 600, "y": 0, "width": 200, "height": 100}}],
                )
            ],
        ).cameras[0]
    )
    (stage,) = config
    outcome = stage.inspect(np.zeros((240, 320, 3), np.uint8), BoundingBox(x=0, y=0, width=320, height=240))
    assert outcome.verdict is Verdict.UNCERTAIN
    assert [(r.code, r.subject) for r in outcome.reasons] == [("region_outside_frame", "label")]


def test_without_a_region_the_stage_reads_the_cameras_roi(tmp_path: Path) -> None:
    stage = build_label_stage(
        edge_config(tmp_path, [camera("cam-1", tmp_path / "m", stages=[STAGE | {"region": None}])])
        .cameras[0]
        .stages[0]  # type: ignore[arg-type]
    )
    frame = label_frame(GOOD)
    assert stage.inspect(frame, BoundingBox(x=20, y=40, width=600, height=400)).verdict is Verdict.PASS
    outcome = stage.inspect(frame, BoundingBox(x=500, y=300, width=100, height=100))  # grey belt only
    assert [(r.code, r.subject) for r in outcome.reasons] == [("missing", "label")]


def test_the_label_stage_conforms_to_the_stage_protocol(tmp_path: Path) -> None:
    (stage,) = build_stages(
        edge_config(tmp_path, [camera("cam-1", tmp_path / "m", stages=[STAGE])]).cameras[0]
    )
    assert isinstance(stage, LabelStage) and isinstance(stage, InspectionStage)
    assert isinstance(stage, MultiViewStage)  # re-read on the part's other views before failing
    assert stage.name == "carton-label"
    assert isinstance(stage._verifier, LabelVerifier)


def test_edge_yaml_refuses_a_label_stage_without_an_order_or_with_unknown_keys(tmp_path: Path) -> None:
    without_order = {k: v for k, v in STAGE.items() if k != "order"}
    with pytest.raises(ValidationError, match="order"):
        edge_config(tmp_path, [camera("cam-1", tmp_path / "m", stages=[without_order])])
    with pytest.raises(ValidationError, match="Extra inputs"):
        edge_config(tmp_path, [camera("cam-1", tmp_path / "m", stages=[STAGE | {"ocr_lang": "de"}])])
