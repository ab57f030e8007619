"""Reviewed events laid out as training data on the node (``edge.evidence.trainingset``, #24)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from lineguard.cli.main import cli
from lineguard.config.edge import Roi
from lineguard.contracts.errors import InputError
from lineguard.contracts.events import BoundingBox
from lineguard.edge.evidence import EvidenceStore
from lineguard.edge.evidence.trainingset import assemble, read_labels
from lineguard.vision.dataset import scan_dataset
from tests.unit.edge.support import camera, edge_config_doc, evidence_store, precreate_keyring

ROI = Roi(x=20, y=10, width=64, height=48)
#: The stored region: the ROI plus an 8-px margin (``evidence.margin_px``).
REGION = BoundingBox(x=12, y=2, width=80, height=64)


def _image(seed: int, box: BoundingBox = REGION) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (box.height, box.width, 3), dtype=np.uint8)


def _put(
    store: EvidenceStore,
    event_id: str,
    *,
    region: BoundingBox | None = REGION,
    redaction: str = "blur:fake:0",
    camera_id: str = "cam-1",
) -> str:
    return store.put(
        _image(len(event_id) + sum(map(ord, event_id)), region or REGION),
        category="fail",
        camera_id=camera_id,
        event_id=event_id,
        captured_at=datetime.now(UTC),
        redaction=redaction,
        region=region,
    ).evidence_id


def _label(event_id: str | None, label: str, **fields: Any) -> dict[str, Any]:
    """One entry as the server's ``GET /reviews/<kind>/labels`` returns it (``LabelView``)."""
    return {
        "review_id": f"rev_{event_id}_{label}",
        "subject_id": "alr_1",
        "line_id": "line-1",
        "camera_id": "cam-1",
        "event_id": event_id,
        "ai_verdict": "fail",
        "ai_defect_class": None,
        "human_verdict": None,
        "human_defect_class": None,
        "label": label,
        "decided_by": "qe",
        "decided_at": "2026-12-06T10:00:00Z",
    } | fields


def _labels_file(path: Path, entries: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(entries))
    return path


def test_reviewed_events_become_the_rois_of_their_verified_evidence(tmp_path: Path) -> None:
    store = evidence_store(tmp_path / "data")
    ids = {e: _put(store, e) for e in ("evt_scratch", "evt_false", "evt_confirmed", "evt_other")}
    labels = read_labels(
        _labels_file(
            tmp_path / "labels.json",
            [
                _label("evt_scratch", "confirmed_defect", human_verdict="fail", human_defect_class="scratch"),
                _label("evt_false", "false_call", human_verdict="pass"),
                _label("evt_confirmed", "confirmed"),  # the AI's fail, no class named: "defect"
                _label("evt_other", "other_class", human_verdict="fail", human_defect_class="dent"),
            ],
        )
    )
    out = tmp_path / "dataset"
    result = assemble(store, labels, {"cam-1": ROI}, out)
    assert result.skipped == []
    assert dict(result.written) == {
        "validation/scratch": 1,
        "train/good": 1,
        "validation/defect": 1,
        "validation/dent": 1,
    }
    expected_folder = {
        "evt_scratch": "validation/scratch",
        "evt_false": "train/good",
        "evt_confirmed": "validation/defect",
        "evt_other": "validation/dent",
    }
    for event, evidence_id in ids.items():
        written = cv2.imread(
            str(out / expected_folder[event] / f"{event}_{evidence_id}.png"), cv2.IMREAD_COLOR
        )
        # the ROI in the stored image's pixels, exactly (PNG): what the model saw, up to the JPEG
        roi = store.image(evidence_id)[8:56, 8:72]
        np.testing.assert_array_equal(written, roi)
    # A dataset training reads as labelled defects and one more good image.
    ds = scan_dataset(out)
    assert len(ds.train_good) == 1
    assert sorted(i.label for i in ds.validation) == ["defect", "dent", "scratch"]
    assert all(i.is_defect for i in ds.validation)
    store.close()


def test_what_is_not_the_models_view_is_left_out_with_its_reason(tmp_path: Path) -> None:
    store = evidence_store(tmp_path / "data")
    _put(store, "evt_crop", region=BoundingBox(x=30, y=20, width=20, height=16))  # crop: defects
    _put(store, "evt_old", region=None)  # stored before regions were recorded
    _put(store, "evt_person", redaction="blur:yunet:2")
    _put(store, "evt_other_cam", camera_id="cam-9")
    _put(store, "evt_uncertain")
    labels = read_labels(
        _labels_file(
            tmp_path / "labels.json",
            [
                _label("evt_crop", "confirmed"),
                _label("evt_old", "confirmed"),
                _label("evt_person", "confirmed"),
                _label("evt_other_cam", "confirmed", camera_id="cam-9"),
                _label("evt_gone", "confirmed"),
                _label("evt_uncertain", "confirmed", ai_verdict="uncertain"),
                _label(None, "confirmed"),
                _label("evt_crop", "confirmed", human_verdict="fail", human_defect_class="good"),
            ],
        )
    )
    result = assemble(store, labels, {"cam-1": ROI}, tmp_path / "dataset")
    assert not result.written and not (tmp_path / "dataset").exists()
    reasons = {s.event_id: s.reason for s in result.skipped[:-1]}
    assert "crop: defects" in reasons["evt_crop"]
    assert "before regions were recorded" in reasons["evt_old"]
    assert "privacy redaction" in reasons["evt_person"]
    assert reasons["evt_other_cam"] == "camera not on this node"
    assert reasons["evt_gone"] == "no evidence of this event on this node"
    assert "no pass or fail verdict" in reasons["evt_uncertain"]
    assert reasons[None] == "the label names no event and camera"
    assert "named 'good'" in result.skipped[-1].reason  # a defect must never become a held-out good
    assert sum(result.reasons().values()) == len(labels)
    store.close()


def test_a_whole_frame_model_needs_whole_frame_evidence(tmp_path: Path) -> None:
    store = evidence_store(tmp_path / "data")
    whole = BoundingBox(x=0, y=0, width=80, height=64)
    kept = _put(store, "evt_whole", region=whole)
    _put(store, "evt_part", region=REGION)  # ROI + margin, not the frame the model saw
    labels = [
        read_labels(_labels_file(tmp_path / "l.json", [_label(e, "confirmed")]))[0]
        for e in ("evt_whole", "evt_part")
    ]
    result = assemble(store, labels, {"cam-1": None}, tmp_path / "dataset")
    assert dict(result.written) == {"validation/defect": 1}
    assert (tmp_path / "dataset" / "validation" / "defect" / f"evt_whole_{kept}.png").is_file()
    assert [s.event_id for s in result.skipped] == ["evt_part"]
    store.close()


def test_running_again_adds_only_new_decisions(tmp_path: Path) -> None:
    store = evidence_store(tmp_path / "data")
    _put(store, "evt_1")
    first = read_labels(_labels_file(tmp_path / "a.json", [_label("evt_1", "confirmed")]))
    assert dict(assemble(store, first, {"cam-1": ROI}, tmp_path / "ds").written) == {"validation/defect": 1}
    _put(store, "evt_2")
    both = read_labels(
        _labels_file(
            tmp_path / "b.json",
            [_label("evt_1", "confirmed"), _label("evt_2", "false_call", human_verdict="pass")],
        )
    )
    again = assemble(store, both, {"cam-1": ROI}, tmp_path / "ds")
    assert dict(again.written) == {"train/good": 1} and again.already_there == 1
    store.close()


def test_evidence_that_fails_verification_is_left_out(tmp_path: Path) -> None:
    store = evidence_store(tmp_path / "data")
    evidence_id = _put(store, "evt_1")
    path = tmp_path / "data" / "evidence" / "objects" / f"{evidence_id}.lge"
    blob = bytearray(path.read_bytes())
    blob[-5] ^= 0xFF
    path.write_bytes(bytes(blob))
    labels = read_labels(_labels_file(tmp_path / "l.json", [_label("evt_1", "confirmed")]))
    result = assemble(store, labels, {"cam-1": ROI}, tmp_path / "ds")
    assert not result.written
    assert result.skipped[0].reason.startswith("evidence failed verification")
    store.close()


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("not json", "is not a label export"),
        ('{"labels": []}', "expected a JSON list of labels, got dict"),
        ('[{"event_id": "e", "camera_id": "c", "label": "confirmed"}]', r"label 0 .*review_id"),
        (
            json.dumps([_label("e", "other_class", human_defect_class="../../etc")]),
            r"label 0 .*human_defect_class",
        ),
        (b"\xff\xfe".decode("latin-1"), "is not a label export"),
    ],
)
def test_bad_label_exports_are_refused(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "labels.json"
    path.write_text(content, encoding="latin-1")
    with pytest.raises(InputError, match=match):
        read_labels(path)


def test_a_missing_label_export_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the label export"):
        read_labels(tmp_path / "nowhere.json")


@pytest.mark.usefixtures("kek_env")
def test_cli_lays_out_reviewed_parts_and_lists_what_it_left_out(tmp_path: Path) -> None:
    data = tmp_path / "data"
    precreate_keyring(data)
    store = evidence_store(data)
    _put(store, "evt_1")
    _put(store, "evt_2", redaction="blur:yunet:1")
    store.close()
    config = tmp_path / "edge.yaml"
    config.write_text(
        yaml.safe_dump(edge_config_doc(data, [camera("cam-1", tmp_path / "m", roi=ROI.model_dump())]))
    )
    labels = _labels_file(
        tmp_path / "labels.json",
        [
            _label("evt_1", "confirmed_defect", human_verdict="fail", human_defect_class="scratch"),
            _label("evt_2", "confirmed"),
        ],
    )
    args = ["edge", "evidence", "training-set", "--config", str(config), "--labels", str(labels)]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "ds")])
    assert result.exit_code == 0, result.output
    assert "2 labels: 1 to validation/scratch; 0 already there" in result.output
    assert "skipped 1: privacy redaction hid part of the image" in result.output
    assert len(list((tmp_path / "ds" / "validation" / "scratch").iterdir())) == 1
    bad = _labels_file(tmp_path / "bad.json", [{"label": "confirmed"}])
    refused = CliRunner().invoke(cli, [*args[:-1], str(bad), "--out", str(tmp_path / "ds")])
    assert refused.exit_code != 0 and "is not a review label" in refused.output
    assert "Traceback" not in refused.output
