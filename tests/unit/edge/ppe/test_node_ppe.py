"""PPE cameras started by the node from edge.yaml: the whole EdgeNode in-process with the real person
detector and classifier, generated walkway frames dropped into a watched folder one by one; only hourly
counts reach the outbox. A zone outside the frame fails only its camera; a disabled camera never opens."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import cv2
import pytest

from lineguard.config.edge import EdgeConfig
from lineguard.contracts.events import Alert, AlertKind
from lineguard.contracts.ppe import PpeCounts
from lineguard.crypto import KdfParams
from lineguard.edge.app import EdgeNode
from lineguard.edge.infer import StaticRunner
from lineguard.edge.outbox import Outbox
from lineguard.edge.pipeline.ppe import DetectorFinder
from lineguard.edge.ppe import PpeClassifier, PpeCounter, hour_of
from lineguard.edge.ppe.render import walkway_scenes
from lineguard.edge.redact import FakeRedactor, PersonDetector
from tests.unit.edge.ppe.test_config import _config, ppe_camera
from tests.unit.edge.support import wait_for

pytestmark = pytest.mark.usefixtures("kek_env")


def _start(config: EdgeConfig) -> EdgeNode:
    """A whole node (closed by the test itself: its outbox is read after the last hour is flushed)."""
    node = EdgeNode(
        config,
        kdf=KdfParams.insecure_for_tests(),
        redactor=FakeRedactor(),
        runners={"cam-a": StaticRunner(score=0.1)},
    )
    node.start()
    return node


def _drop(folder: Path, name: str, image: Any) -> None:
    """Write a frame the way a camera share should: under another name, then renamed (never half-read)."""
    ok, png = cv2.imencode(".png", image)
    assert ok
    (folder / f"{name}.tmp").write_bytes(png.tobytes())
    (folder / f"{name}.tmp").replace(folder / f"{name}.png")


def _outbox(config: EdgeConfig) -> tuple[list[PpeCounts], list[Alert]]:
    outbox = Outbox(config.node.data_dir / "outbox" / "outbox.db")
    try:
        items = outbox.pending(100_000)
    finally:
        outbox.close()
    kinds = {i.kind for i in items}
    assert kinds <= {"ppe", "alert", "event", "part"}, kinds  # nothing else leaves a PPE camera
    counts = [PpeCounts.model_validate_json(i.body) for i in items if i.kind == "ppe"]
    return counts, [Alert.model_validate_json(i.body) for i in items if i.kind == "alert"]


def test_a_ppe_camera_sends_only_hourly_counts_matching_the_detector_and_classifier(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "walkway"
    folder.mkdir()
    scene = walkway_scenes(1, seed=21, people=(3, 3))[0]
    # What the node should count per frame: the same detector and classifier, run directly.
    cam_config = _config(
        tmp_path, ppe_camera(source={"type": "folder", "path": str(folder), "poll_interval_ms": 20})
    )
    direct = PpeCounter(
        cam_config.node,
        cam_config.ppe_cameras[0],
        finder=DetectorFinder(PersonDetector()),
        classifier=PpeClassifier.load(),
    )
    frames = 4
    for _ in range(frames):
        direct.observe(scene.image, dt.datetime.now(dt.UTC))
    (expected,) = direct.close()
    assert expected.people_seen is not None and expected.people_seen >= 2 * frames

    node = _start(cam_config)
    stats = node.stats["cam-walk"]
    for i in range(frames):
        _drop(folder, f"walk-{i}", scene.image)
        wait_for(lambda i=i: stats.frames_inspected == i + 1, timeout_s=30)
        time.sleep(0.25)  # sample_interval_s is 0.2: every frame is looked at
    node.close()
    sent, alerts = _outbox(cam_config)
    assert not [a for a in alerts if a.camera_id == "cam-walk"]
    # The stop sent no open hour (it is saved on the node's disk, the next start goes on with it):
    # only an hour that turned during the test has gone out. The saved one, taken up, is the rest.
    assert all(c.hour_start < hour_of(dt.datetime.now(dt.UTC)) for c in sent)
    restarted = PpeCounter(
        cam_config.node,
        cam_config.ppe_cameras[0],
        finder=DetectorFinder(PersonDetector()),
        classifier=PpeClassifier.load(),
    )
    assert restarted.restore_problem is None
    counts = sent + restarted.close()
    assert {c.zone for c in counts} == {"aisle"} and all(c.camera_id == "cam-walk" for c in counts)
    assert sum(c.sampled_frames for c in counts) == frames
    assert sum(c.people_seen or 0 for c in counts) == expected.people_seen
    if len(counts) == 1:  # (the hour may turn during the test: then two rows, each suppressed on its own)
        assert counts[0].items == expected.items


def test_a_zone_outside_the_frame_fails_its_camera_only_and_a_disabled_camera_never_opens(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "walkway"
    folder.mkdir()
    wide = ppe_camera(
        "cam-wide",
        source={"type": "folder", "path": str(folder), "poll_interval_ms": 20},
        zones=[{"name": "beyond", "x": 600, "y": 0, "width": 200, "height": 100}],
    )
    off = ppe_camera("cam-off", source={"type": "folder", "path": str(tmp_path / "nowhere")}, enabled=False)
    config = _config(tmp_path, wide)
    config = config.model_copy(
        update={"ppe_cameras": [*config.ppe_cameras, _config(tmp_path, off).ppe_cameras[0]]}
    )
    node = _start(config)
    _drop(folder, "walk-0", walkway_scenes(1, seed=3)[0].image)  # 640x480
    stats = node.stats["cam-wide"]
    wait_for(lambda: stats.state == "failed" and stats.last_error is not None, timeout_s=30)
    assert "PPE zone 'beyond' spans x 600..800, y 0..100, outside the 640x480 frame" in (
        stats.last_error or ""
    )
    assert node.stats["cam-off"].state == "ended"
    assert node.stats["cam-a"].state != "failed"
    node.close()
    counts, alerts = _outbox(config)
    assert counts == []
    (alert,) = [a for a in alerts if a.camera_id == "cam-wide"]
    assert alert.kind is AlertKind.STAGE_REJECTED and "outside the 640x480 frame" in alert.message
