"""Thermal cameras started by the node from edge.yaml (``thermal_cameras``): the whole EdgeNode
in-process, a generated overheating motor written as PNG16 frames into a folder, its alarms and
maintenance recommendation in the outbox; bad thermal input fails only its own camera."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from lineguard.contracts.events import Alert, AlertKind
from lineguard.contracts.stages import StageResult
from lineguard.edge.app import EdgeNode
from lineguard.edge.infer import StaticRunner
from lineguard.edge.thermal.synthetic import SCENE_ROIS, Fault, ThermalScene, to_centi_kelvin
from tests.unit.edge.support import camera, edge_config, wait_for

pytestmark = pytest.mark.usefixtures("kek_env")

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
LEARN_H = 72
PERIOD = dt.timedelta(minutes=5)
WATCH = T0 + dt.timedelta(hours=LEARN_H)
ROIS = [r.model_dump() for r in SCENE_ROIS]


def _name(at: dt.datetime) -> str:
    return f"motor-{at:%Y%m%dT%H%M%S}Z.png"


def _overheating_folder(folder: Path) -> None:
    """Three normal days, then 18 h with the motor heating 1 °C/h from 06:00 (uint16 centi-kelvin PNGs)."""
    folder.mkdir()
    scene = ThermalScene(seed=3, faults=(Fault("overheat", WATCH + dt.timedelta(hours=6), rate_c_per_h=1.0),))
    for frame in scene.frames(T0, WATCH + dt.timedelta(hours=18), PERIOD):
        assert cv2.imwrite(str(folder / _name(frame.captured_at)), to_centi_kelvin(frame.celsius))


def _thermal(camera_id: str, folder: Path, **extra: Any) -> dict[str, Any]:
    return {
        "camera_id": camera_id,
        "station_id": "st-motor",
        "source": {"path": str(folder), "pattern": "*.png", "calibration": {"units": "centi_kelvin"}},
        "monitor": {"name": "motor-view", "rois": ROIS},
        "learn_hours": LEARN_H,
        "poll_interval_ms": 50,
        **extra,
    }


def _outbox(node: EdgeNode) -> tuple[list[StageResult], list[Alert]]:
    items = node.outbox.pending(100_000)
    results = [StageResult.model_validate_json(i.body) for i in items if i.kind == "stage"]
    alerts = [Alert.model_validate_json(i.body) for i in items if i.kind == "alert"]
    return results, alerts


def test_a_thermal_camera_from_edge_yaml_learns_then_reports_an_overheating_motor(
    tmp_path: Path, running: Any
) -> None:
    good, eight_bit, missing = tmp_path / "good", tmp_path / "eight-bit", tmp_path / "nowhere"
    _overheating_folder(good)
    eight_bit.mkdir()
    for i in range(3):  # a viewer's 8-bit export: grey levels, not temperatures
        cv2.imwrite(str(eight_bit / _name(T0 + i * PERIOD)), np.full((96, 128), 120 + i, np.uint8))
    config = edge_config(
        tmp_path / "data",
        [camera("cam-a", tmp_path / "model")],
        thermal_cameras=[
            _thermal("th-good", good),
            _thermal("th-8bit", eight_bit),
            _thermal("th-gone", missing),
        ],
    )
    node = running(config, runners={"cam-a": StaticRunner(score=0.1)})  # cam-a: synthetic frames

    frames = len(list(good.glob("*.png")))
    watched = frames - LEARN_H * 12  # 5-minute frames after the learning period
    wait_for(lambda: node.stats["th-good"].frames_inspected == watched, timeout_s=120)
    wait_for(lambda: node.stats["cam-a"].frames_inspected >= 5)  # the visual camera carries on

    results, alerts = _outbox(node)
    assert results and {(r.camera_id, r.station_id, r.stage, r.kind.value) for r in results} == {
        ("th-good", "st-motor", "motor-view", "thermal")
    }
    assert all(r.part_verdict_id is None and r.captured_at >= WATCH for r in results)
    # Readings (every reading_interval_s, 5 min by default: every frame here) say no reason.
    readings = [r for r in results if not r.reasons]
    assert len(readings) == watched and all(r.verdict.value == "pass" for r in readings)
    first = {m.characteristic: m for m in readings[0].measurements}
    assert set(first) == {f"{roi['asset']}.{what}" for roi in ROIS for what in ("max", "trend")}
    motor = first["motor.max"]
    assert motor.unit == "degC" and motor.lower_limit is not None and motor.upper_limit is not None
    assert motor.lower_limit < motor.nominal < motor.upper_limit  # type: ignore[operator]
    assert [m.in_tolerance for m in readings[-1].measurements if m.characteristic == "motor.max"] == [False]
    (rec,) = [r for r in results if r.reasons and r.reasons[0].code == "maintenance_recommended"]
    assert rec.reasons[0].subject == "motor" and rec.verdict.value == "uncertain"
    assert rec.captured_at > WATCH + dt.timedelta(hours=6)  # after the fault began, not while learning
    trend = next(m for m in rec.measurements if m.characteristic == "motor.trend")
    assert trend.value >= trend.upper_limit == 4.0
    motor_alarms = [r for r in results if r.verdict.value == "fail" and r.reasons[0].subject == "motor"]
    assert {r.verdict.value for r in results if not r.reasons} == {"pass"}
    assert motor_alarms and all(r.captured_at > WATCH + dt.timedelta(hours=6) for r in motor_alarms)
    learned = node.stats["th-good"]
    assert learned.state == "streaming" and learned.frames_captured == frames

    eight = node.stats["th-8bit"]
    assert eight.state == "failed" and eight.frames_corrupt == 3 and eight.frames_inspected == 0
    assert (
        eight.last_error is not None
        and "expected 16-bit radiometric values, got 8-bit uint8" in eight.last_error
    )
    gone = node.stats["th-gone"]
    assert gone.state == "failed" and gone.last_error is not None and "does not exist" in gone.last_error
    by_camera = {a.camera_id: a for a in alerts if a.kind is AlertKind.STAGE_REJECTED}
    assert set(by_camera) == {"th-8bit", "th-gone"}  # one alert each, not one per bad file
    assert "3 file(s) refused" in by_camera["th-8bit"].message
    assert str(missing) in by_camera["th-gone"].message
    assert [r for r in results if r.camera_id != "th-good"] == []


def test_too_little_to_learn_from_fails_the_thermal_camera(tmp_path: Path, running: Any) -> None:
    folder = tmp_path / "short"
    folder.mkdir()
    scene = ThermalScene(seed=1)
    # Four frames: the first three learn (15 min of learn_hours=0.25), the fourth ends learning.
    for frame in scene.frames(T0, T0 + 4 * PERIOD, PERIOD):
        cv2.imwrite(str(folder / _name(frame.captured_at)), to_centi_kelvin(frame.celsius))
    config = edge_config(
        tmp_path / "data",
        [camera("cam-a", tmp_path / "model")],
        thermal_cameras=[_thermal("th", folder, learn_hours=0.25)],
    )
    node = running(config, runners={"cam-a": StaticRunner(score=0.1)})
    wait_for(lambda: node.stats["th"].state == "failed")
    assert node.stats["th"].last_error is not None
    assert "cannot learn the normal bands" in node.stats["th"].last_error
    assert "normal samples, 20 needed" in node.stats["th"].last_error
    results, alerts = _outbox(node)
    assert results == [] and [a.camera_id for a in alerts if a.kind is AlertKind.STAGE_REJECTED] == ["th"]


def test_raw_frames_without_calibration_constants_are_refused_naming_them(tmp_path: Path) -> None:
    bad = _thermal("th", tmp_path)
    bad["source"]["calibration"] = {"units": "raw", "planck_r": 16000.0, "planck_b": 1400.0}
    with pytest.raises(ValidationError, match="missing: planck_f, planck_o"):
        edge_config(tmp_path / "data", [camera("cam-a", tmp_path / "model")], thermal_cameras=[bad])


def test_a_thermal_camera_id_must_not_repeat_a_camera_id(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="camera_id must be unique, repeated: cam-a"):
        edge_config(
            tmp_path / "data",
            [camera("cam-a", tmp_path / "model")],
            thermal_cameras=[_thermal("cam-a", tmp_path)],
        )


def test_a_live_thermal_camera_that_stops_sending_raises_a_sensor_dropout(
    tmp_path: Path, running: Any
) -> None:
    # Frames taken just now (a live drop folder): after they stop, the silence timer runs on
    # the wall clock and a dropout result goes to the outbox.
    folder = tmp_path / "live"
    folder.mkdir()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    scene = ThermalScene(seed=2)
    for k in range(5):  # -8 s … 0 s: four learn (0.002 h = 7.2 s), the last one is watched
        frame = scene.frame(now - dt.timedelta(seconds=8 - 2 * k))
        assert frame is not None
        cv2.imwrite(str(folder / _name(frame.captured_at)), to_centi_kelvin(frame.celsius))
    monitor = {"name": "motor-view", "rois": ROIS, "band_by": "none", "min_learn_samples": 3,
               "dropout_after_s": 10.0}  # fmt: skip
    config = edge_config(
        tmp_path / "data",
        [camera("cam-a", tmp_path / "model")],
        thermal_cameras=[_thermal("th", folder, learn_hours=0.002, monitor=monitor)],
    )
    node = running(config, runners={"cam-a": StaticRunner(score=0.1)})

    def dropouts() -> list[StageResult]:
        return [r for r in _outbox(node)[0] if r.reasons and r.reasons[0].code == "sensor_dropout"]

    wait_for(lambda: bool(dropouts()), timeout_s=60)
    (dropout,) = dropouts()
    assert dropout.reasons[0].subject == "camera" and dropout.verdict.value == "fail"
    assert "no valid frame for" in dropout.reasons[0].message
    assert node.stats["th"].frames_inspected == 1
