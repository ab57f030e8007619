"""Learned thermal bands survive a restart: saved privately with their digest, read back only
for the same camera and band settings; a corrupt or stale file is a clear error, and on the
node an alert and a new learning period, never a crash."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path
from typing import Any

import cv2
import pytest

from lineguard.config.thermal import ThermalStageConfig
from lineguard.contracts.errors import InputError, IntegrityError
from lineguard.contracts.events import Alert, AlertKind
from lineguard.contracts.stages import StageResult
from lineguard.crypto import KdfParams
from lineguard.edge.app import EdgeNode
from lineguard.edge.infer import StaticRunner
from lineguard.edge.redact import FakeRedactor
from lineguard.edge.thermal import ThermalMonitor
from lineguard.edge.thermal.bands_file import bands_path, load_bands, save_bands
from lineguard.edge.thermal.synthetic import SCENE_ROIS, ThermalScene, to_centi_kelvin
from tests.unit.edge.support import camera, edge_config, wait_for

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
PERIOD = dt.timedelta(minutes=5)
CONFIG = ThermalStageConfig(name="motor-view", rois=SCENE_ROIS)


def _learned(seed: int = 3) -> ThermalMonitor:
    monitor = ThermalMonitor(CONFIG)
    monitor.learn(ThermalScene(seed=seed).frames(T0, T0 + dt.timedelta(days=2), PERIOD))
    return monitor


def _saved(tmp_path: Path) -> tuple[Path, ThermalMonitor]:
    monitor = _learned()
    path = bands_path(tmp_path, "th-1")
    save_bands(path, camera_id="th-1", config=CONFIG, bands=monitor.export_bands(), now=T0)
    return path, monitor


def test_saved_bands_come_back_exactly_and_the_file_is_private(tmp_path: Path) -> None:
    path, learned = _saved(tmp_path)
    assert path == tmp_path / "thermal" / "th-1.bands.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    bands, learned_at = load_bands(path, camera_id="th-1", config=CONFIG)
    assert learned_at == T0
    restored = ThermalMonitor(CONFIG)
    restored.restore_bands(bands)
    assert restored.learned and restored.export_bands() == learned.export_bands()
    frame = ThermalScene(seed=4).frame(T0 + dt.timedelta(days=3, hours=14))
    assert frame is not None
    assert [r.band for r in restored.observe(frame).readings] == [
        r.band for r in learned.observe(frame).readings
    ]
    # Alarm limits do not shape a band: changing them keeps the saved bands.
    relaxed = CONFIG.model_copy(update={"confirm_frames": 5, "accuracy_c": 1.0})
    assert load_bands(path, camera_id="th-1", config=relaxed)[0] == bands


@pytest.mark.parametrize(
    ("damage", "error", "says"),
    [
        (lambda raw: raw[: len(raw) // 2], IntegrityError, "cannot be read as saved bands"),
        (lambda raw: raw.replace(b'"all":[', b'"all":[1', 1), IntegrityError, "its content hashes to"),
        (lambda raw: b"[]", IntegrityError, "not a saved-bands file"),
        (lambda raw: b"", IntegrityError, "cannot be read as saved bands"),
    ],
)
def test_a_corrupt_file_is_an_integrity_error_naming_it(
    tmp_path: Path, damage: Any, error: type[Exception], says: str
) -> None:
    path, _ = _saved(tmp_path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(error, match=says):
        load_bands(path, camera_id="th-1", config=CONFIG)


def test_bands_of_another_camera_or_other_band_settings_are_refused(tmp_path: Path) -> None:
    path, _ = _saved(tmp_path)
    with pytest.raises(InputError, match="holds the bands of camera 'th-1', not 'th-2'"):
        load_bands(path, camera_id="th-2", config=CONFIG)
    moved = [SCENE_ROIS[0].model_copy(update={"x": 5}), *SCENE_ROIS[1:]]
    for changed in (
        CONFIG.model_copy(update={"rois": moved}),
        CONFIG.model_copy(update={"band_sigma": 4.0}),
        CONFIG.model_copy(update={"band_by": "none"}),
    ):
        with pytest.raises(InputError, match="the thermal config changed"):
            load_bands(path, camera_id="th-1", config=changed)


def _rewrite(path: Path, edit: Any) -> None:
    """Edit the content and recompute its digest (a hand edit by someone who knows the format)."""
    import hashlib

    body = json.loads(path.read_bytes())
    body.pop("sha256")
    edit(body)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    body["sha256"] = hashlib.sha256(canonical).hexdigest()
    path.write_bytes(json.dumps(body).encode())


def test_a_well_formed_file_with_impossible_bands_is_refused_by_the_monitor(tmp_path: Path) -> None:
    path, _ = _saved(tmp_path)
    _rewrite(path, lambda body: body["bands"]["motor"].update({"all": [40.0, 45.0, 35.0, 100]}))
    bands, _ = load_bands(path, camera_id="th-1", config=CONFIG)
    with pytest.raises(InputError, match="band 'all' is not a valid band"):
        ThermalMonitor(CONFIG).restore_bands(bands)
    path, _ = _saved(tmp_path)
    _rewrite(path, lambda body: body["bands"].pop("panel"))
    with pytest.raises(InputError, match="this camera watches"):
        ThermalMonitor(CONFIG).restore_bands(load_bands(path, camera_id="th-1", config=CONFIG)[0])
    path, _ = _saved(tmp_path)
    _rewrite(path, lambda body: body["bands"]["motor"].update({"25": [40.0, 35.0, 45.0, 10]}))
    with pytest.raises(InputError, match="band '25' is not a valid band"):
        ThermalMonitor(CONFIG).restore_bands(load_bands(path, camera_id="th-1", config=CONFIG)[0])


# ---- on the node ------------------------------------------------------------------------------

LEARN_H = 48


def _frames(folder: Path, start: dt.datetime, hours: int, seed: int) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for frame in ThermalScene(seed=seed, epoch=T0).frames(start, start + dt.timedelta(hours=hours), PERIOD):
        cv2.imwrite(
            str(folder / f"motor-{frame.captured_at:%Y%m%dT%H%M%S}Z.png"), to_centi_kelvin(frame.celsius)
        )
        count += 1
    return count


def _node_config(tmp_path: Path, folder: Path) -> Any:
    thermal = {
        "camera_id": "th",
        "station_id": "st-motor",
        "source": {"path": str(folder), "pattern": "*.png", "calibration": {"units": "centi_kelvin"}},
        "monitor": {"name": "motor-view", "rois": [r.model_dump() for r in SCENE_ROIS]},
        "learn_hours": LEARN_H,
        "poll_interval_ms": 50,
    }
    return edge_config(tmp_path / "data", [camera("cam-a", tmp_path / "model")], thermal_cameras=[thermal])


def _outbox(node: Any) -> tuple[list[StageResult], list[Alert]]:
    items = node.outbox.pending(100_000)
    return (
        [StageResult.model_validate_json(i.body) for i in items if i.kind == "stage"],
        [Alert.model_validate_json(i.body) for i in items if i.kind == "alert"],
    )


def test_a_restarted_node_watches_from_its_first_frame_with_the_bands_it_learned(
    tmp_path: Path, running: Any, kek_env: Any
) -> None:
    first = tmp_path / "first"
    frames = _frames(first, T0, LEARN_H + 6, seed=3)
    node = EdgeNode(
        _node_config(tmp_path, first),
        kdf=KdfParams.insecure_for_tests(),
        redactor=FakeRedactor(),
        runners={"cam-a": StaticRunner(score=0.1)},
    )
    node.start()
    try:
        wait_for(lambda: node.stats["th"].frames_inspected == frames - LEARN_H * 12, timeout_s=120)
    finally:
        node.close()
    saved = bands_path(tmp_path / "data", "th")
    assert saved.exists() and stat.S_IMODE(saved.stat().st_mode) == 0o600

    # The restarted node reads a folder of later frames only: no learning period this time.
    later = tmp_path / "later"
    watched = _frames(later, T0 + dt.timedelta(days=5), 6, seed=4)
    again = running(_node_config(tmp_path, later), runners={"cam-a": StaticRunner(score=0.1)})
    wait_for(lambda: again.stats["th"].frames_inspected == watched, timeout_s=120)
    assert again.stats["th"].state == "streaming"
    results, alerts = _outbox(again)
    assert [a for a in alerts if a.kind is AlertKind.STAGE_REJECTED] == []
    # (The outbox is the node's own: the first run's results are still in it, unsent.)
    later_start = T0 + dt.timedelta(days=5)
    readings = [r for r in results if not r.reasons and r.camera_id == "th" and r.captured_at >= later_start]
    assert len(readings) == watched and min(r.captured_at for r in readings) == later_start


def test_a_corrupt_bands_file_raises_an_alert_and_the_camera_learns_again(
    tmp_path: Path, running: Any, kek_env: Any
) -> None:
    saved = bands_path(tmp_path / "data", "th")
    saved.parent.mkdir(parents=True)
    saved.write_bytes(b'{"schema_version": 1, "bands": {"motor": {"all": [40, 35, 45, 9')  # a torn write
    folder = tmp_path / "frames"
    frames = _frames(folder, T0, LEARN_H + 6, seed=3)
    node = running(_node_config(tmp_path, folder), runners={"cam-a": StaticRunner(score=0.1)})
    wait_for(lambda: node.stats["th"].frames_inspected == frames - LEARN_H * 12, timeout_s=120)
    _, alerts = _outbox(node)
    (alert,) = [a for a in alerts if a.kind is AlertKind.STAGE_REJECTED]
    assert alert.camera_id == "th" and "learned bands not used, learning again" in alert.message
    assert "cannot be read as saved bands" in alert.message
    assert saved.with_name(saved.name + ".rejected").exists()
    # Learned again, and saved: the next start will use the new file.
    assert load_bands(saved, camera_id="th", config=node.config.thermal_cameras[0].monitor)[
        1
    ] == T0 + dt.timedelta(hours=LEARN_H)
