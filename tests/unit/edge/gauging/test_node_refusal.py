"""A camera whose gauging stage cannot run stays off, and the server hears why."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lineguard.contracts.events import Alert, AlertKind, AlertSeverity
from lineguard.crypto import KdfParams
from lineguard.edge.app import EdgeNode
from lineguard.edge.infer import StaticRunner
from lineguard.edge.redact import FakeRedactor
from tests.unit.edge.support import camera, edge_config

pytestmark = pytest.mark.usefixtures("kek_env")


def test_an_uncalibrated_camera_is_not_started_and_raises_a_stage_rejected_alert(
    tmp_path: Path, spec_file: Path
) -> None:
    stage = {"kind": "gauging", "name": "bracket", "calibration": str(tmp_path / "never-calibrated")}
    stage |= {"signer_key": str(tmp_path / "signer.pem"), "spec": str(spec_file)}
    config = edge_config(
        tmp_path / "data",
        [camera("cam-g", tmp_path / "m", stages=[stage]), camera("cam-a", tmp_path / "m")],
    )
    node = EdgeNode(
        config,
        kdf=KdfParams.insecure_for_tests(),
        redactor=FakeRedactor(),
        runners={"cam-g": StaticRunner(), "cam-a": StaticRunner()},
    )
    node.start()
    try:
        deadline = time.monotonic() + 60  # a wait, generous for a loaded machine
        while node.stats["cam-a"].frames_inspected < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert node.stats["cam-a"].frames_inspected >= 3  # the other camera runs on
        gauged = node.stats["cam-g"]
        assert gauged.state == "failed" and gauged.frames_inspected == 0
        assert gauged.last_error is not None and "camera cam-g is not calibrated" in gauged.last_error
        alerts = [Alert.model_validate_json(i.body) for i in node.outbox.pending(10_000) if i.kind == "alert"]
        assert [(a.kind, a.severity, a.camera_id) for a in alerts] == [
            (AlertKind.STAGE_REJECTED, AlertSeverity.CRITICAL, "cam-g")
        ]
        assert "run `lineguard gauge calibrate`" in alerts[0].message
    finally:
        node.close()
