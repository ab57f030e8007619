"""Gauging end to end: rendered brackets dropped into a camera folder → the whole edge node
(edge.yaml with a gauging stage, a signed calibration, the demo spec) → its outbox → its
sender over HTTPS + mTLS → the plant server (SQLite and PostgreSQL) → part verdicts failed
with the measurement as the reason, stage results, and one measurement row per value."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from lineguard.config.edge import EdgeConfig
from lineguard.crypto import KdfParams
from lineguard.edge.app import EdgeNode
from lineguard.edge.gauging import calibrate
from lineguard.edge.gauging.render import BRACKET, render_bracket
from lineguard.edge.identity import enroll
from lineguard.edge.infer import StaticRunner
from lineguard.edge.redact import FakeRedactor
from lineguard.server.ingest.models import PartVerdictRow, StageResultRow
from lineguard.server.measurements import MeasurementRow
from tests.unit.edge.gauging.conftest import BOARD, CAMERA, SPEC, board_views, public_pem, signed_calibration
from tests.unit.edge.support import PASS_ENV, PASSPHRASE, WHOLE_FRAME, wait_for
from tests.unit.server.conftest import Plant

pytestmark = pytest.mark.slow  # renders a calibration and five parts, runs a node


def _drop(folder: Path, name: str, image: np.ndarray) -> None:
    cv2.imwrite(str(folder / f".{name}.png"), image)
    (folder / f".{name}.png").rename(folder / f"{name}.png")


def test_measurements_travel_from_the_node_to_the_server(
    plant: Plant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASS_ENV, PASSPHRASE)
    data_dir = tmp_path / "node"
    enroll(plant.url, plant.token("node-g", cameras=("cam-g",)), data_dir)
    key = ec.generate_private_key(ec.SECP256R1())
    calibration = calibrate(board_views(), BOARD, camera_id="cam-g", now=datetime.now(UTC))
    folder = signed_calibration(calibration, key, tmp_path / "calib" / "cam-g")
    (tmp_path / "bracket.yaml").write_text(SPEC, encoding="utf-8")
    frames = tmp_path / "frames"
    frames.mkdir()
    config = EdgeConfig.model_validate(
        {
            "kind": "edge",
            "node": {
                "node_id": "node-g",
                "site_id": "plant-a",
                "line_id": "line-1",
                "data_dir": str(data_dir),
            },
            "server": {"url": plant.url, "flush_interval_ms": 50},
            "metrics": {"enabled": False},
            "cameras": [
                {
                    "camera_id": "cam-g",
                    "station_id": "st-gauge",
                    "source": {"type": "folder", "path": str(frames), "poll_interval_ms": 20},
                    "model": str(tmp_path / "model"),
                    "evidence": WHOLE_FRAME,
                    "parts": {"id_source": "line", "idle_close_s": 0.5},
                    "stages": [
                        {
                            "kind": "gauging",
                            "name": "bracket-holes",
                            "calibration": str(folder),
                            "signer_key": str(public_pem(key, tmp_path / "signer.pem")),
                            "spec": str(tmp_path / "bracket.yaml"),
                        }
                    ],
                }
            ],
        }
    )
    parts = {
        "P-001": BRACKET,
        "P-002": BRACKET.with_hole("hole_a", 8.25),
        "P-003": BRACKET,
        "P-004": BRACKET.with_hole("hole_c", None),
        "P-005": BRACKET,
    }
    images = {pid: render_bracket(CAMERA, truth, seed=i) for i, (pid, truth) in enumerate(parts.items())}
    node = EdgeNode(
        config, kdf=KdfParams.insecure_for_tests(), redactor=FakeRedactor(), runners={"cam-g": StaticRunner()}
    )
    node.start()
    try:
        for pid, image in images.items():
            _drop(frames, pid, image)
            time.sleep(0.05)

        def stored() -> int:
            with plant.session() as s:
                return len(s.scalars(select(PartVerdictRow)).all())

        wait_for(lambda: stored() == len(parts) and node.outbox.backlog() == 0, timeout_s=180)
    finally:
        node.close()
    assert node.stats["cam-g"].state != "failed", node.stats["cam-g"].last_error

    with plant.session() as s:
        verdicts = s.scalars(select(PartVerdictRow).order_by(PartVerdictRow.first_frame_id)).all()
        results = {r.part_verdict_id: r for r in s.scalars(select(StageResultRow)).all()}
        values = s.scalars(select(MeasurementRow)).all()
    by_order = [results[v.part_verdict_id] for v in verdicts]
    assert [v.verdict for v in verdicts] == ["pass", "fail", "pass", "fail", "pass"]
    assert [(r["code"], r["subject"]) for r in by_order[1].reasons] == [
        ("out_of_tolerance", "hole_a_diameter")
    ]
    assert sorted((r["code"], r["subject"]) for r in by_order[3].reasons) == [
        ("feature_missing", "hole_c_present"),
        ("feature_missing", "hole_c_to_bottom"),
    ]
    assert {(r.kind, r.stage, r.station_id) for r in by_order} == {("gauging", "bracket-holes", "st-gauge")}
    assert [i["name"] for i in by_order[0].inputs] == ["calibration", "spec"]
    assert all(v.stages[0]["stage"] == "bracket-holes" for v in verdicts)
    diameters = [m for m in values if m.characteristic == "hole_a_diameter"]
    assert len(diameters) == 5
    oversize = [m.value for m in diameters if not m.in_tolerance]
    assert len(oversize) == 1 and abs(oversize[0] - 8.25) < 0.02
    assert all(abs(m.value - 8.0) < 0.02 for m in diameters if m.in_tolerance)
    assert all(m.node_id == "node-g" and m.line_id == "line-1" for m in values)
