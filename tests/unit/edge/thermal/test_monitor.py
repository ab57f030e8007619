"""The thermal monitor on the generated motor scene: each fault raises what it should, a normal
day raises nothing, and a dropout is never mistaken for a temperature."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from pydantic import ValidationError

from lineguard.config.thermal import ThermalRoi, ThermalStageConfig
from lineguard.contracts.errors import InputError
from lineguard.edge.thermal import ThermalAlarm, ThermalFrame, ThermalMonitor
from lineguard.edge.thermal.monitor import MaintenanceRecommendation
from lineguard.edge.thermal.synthetic import SCENE_ROIS, Fault, ThermalScene

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
PERIOD = dt.timedelta(minutes=5)
LEARN_DAYS = 4
WATCH = T0 + dt.timedelta(days=LEARN_DAYS)
CONFIG = ThermalStageConfig(rois=SCENE_ROIS)


def _run(
    *faults: Fault, config: ThermalStageConfig = CONFIG, hours: float = 24
) -> tuple[list[ThermalAlarm], list[MaintenanceRecommendation], ThermalMonitor]:
    scene = ThermalScene(seed=3, faults=faults)
    monitor = ThermalMonitor(config)
    monitor.learn(scene.frames(T0, WATCH, PERIOD))
    alarms: list[ThermalAlarm] = []
    recommendations: list[MaintenanceRecommendation] = []
    for frame in scene.frames(WATCH, WATCH + dt.timedelta(hours=hours), PERIOD):
        seen = monitor.observe(frame)
        alarms += seen.alarms
        recommendations += seen.recommendations
    return alarms, recommendations, monitor


def test_a_normal_day_raises_nothing() -> None:
    alarms, recommendations, _ = _run()
    assert alarms == []
    assert recommendations == []


def test_a_sudden_hot_spot_on_the_bearing_alarms_within_the_confirmation_frames() -> None:
    start = WATCH + dt.timedelta(hours=2)
    alarms, _, _ = _run(Fault("hot_spot", start, step_c=12.0), hours=4)
    assert [(a.kind, a.asset) for a in alarms] == [("hot_spot", "bearing")]
    assert alarms[0].raised_at == start + (CONFIG.confirm_frames - 1) * PERIOD
    assert alarms[0].value_c is not None and alarms[0].limit_c is not None
    assert alarms[0].value_c > alarms[0].limit_c
    assert "above its normal band" in alarms[0].message


def test_gradual_overheating_raises_a_maintenance_recommendation_with_its_trend() -> None:
    start = WATCH + dt.timedelta(hours=6)
    _, recommendations, _ = _run(Fault("overheat", start, rate_c_per_h=1.0), hours=18)
    assert [r.asset for r in recommendations] == ["motor"]
    rec = recommendations[0]
    assert rec.asset_kind == "motor"
    assert rec.raised_at > start
    assert rec.trend_c >= rec.limit_c == 4.0
    assert rec.slope_c_per_h > 0.3
    assert "schedule an inspection" in rec.message


@pytest.mark.parametrize(
    ("dropout_after_s", "frames_to_alarm"),
    [(300.0, 1), (3600.0, 3)],  # 5-minute frames: 300 s since the last good one, or 3 bad frames in a row
)
def test_a_dropout_raises_one_dropout_alarm_and_no_temperature_alarm(
    dropout_after_s: float, frames_to_alarm: int
) -> None:
    start = WATCH + dt.timedelta(hours=3)
    config = CONFIG.model_copy(update={"dropout_after_s": dropout_after_s})
    fault = Fault("dropout", start, duration=dt.timedelta(hours=1))
    alarms, recommendations, _ = _run(fault, config=config, hours=8)
    assert [(a.kind, a.asset) for a in alarms] == [("sensor_dropout", "camera")]
    assert alarms[0].raised_at == start + (frames_to_alarm - 1) * PERIOD
    assert "outside -60..2000" in alarms[0].message
    assert recommendations == []


def test_missing_frames_are_a_dropout_too() -> None:
    start = WATCH + dt.timedelta(hours=3)
    alarms, _, monitor = _run(Fault("dropout", start, duration=dt.timedelta(hours=1), missing=True), hours=8)
    assert [(a.kind, a.raised_at) for a in alarms] == [("sensor_dropout", start + dt.timedelta(hours=1))]
    assert "no frame for 3900 s" in alarms[0].message
    later = WATCH + dt.timedelta(hours=9)
    silence = monitor.check_silence(later)
    assert silence is not None and silence.kind == "sensor_dropout"
    assert monitor.check_silence(later + dt.timedelta(minutes=1)) is None  # raised once


def test_one_hot_frame_is_not_an_alarm() -> None:
    scene = ThermalScene(seed=3)
    monitor = ThermalMonitor(CONFIG)
    monitor.learn(scene.frames(T0, WATCH, PERIOD))
    frames = list(scene.frames(WATCH, WATCH + dt.timedelta(hours=1), PERIOD))
    spiked = frames[5].celsius.copy()
    spiked[48, 92] += 30
    frames[5] = ThermalFrame(spiked, frames[5].captured_at)
    assert [a for f in frames for a in monitor.observe(f).alarms] == []


def test_absolute_and_delta_t_limits() -> None:
    motor = SCENE_ROIS[1].model_copy(
        update={"hot_spot_limit_c": 45.0, "delta_t_limit_c": 20.0, "trend_limit_c": None}
    )
    rois = [SCENE_ROIS[0], motor]
    alarms, _, _ = _run(config=ThermalStageConfig(rois=rois), hours=12)  # 00:00-12:00, shift from 06:00
    kinds = {(a.kind, a.asset) for a in alarms}
    assert kinds == {("hot_spot", "motor"), ("delta_t", "motor")}
    hot = next(a for a in alarms if a.kind == "hot_spot")
    assert hot.limit_c == 45.0 and "above its limit 45.0" in hot.message
    assert all(a.raised_at.hour >= 6 for a in alarms)


def test_monitoring_needs_a_learned_band_and_roi_inside_the_frame() -> None:
    monitor = ThermalMonitor(CONFIG)
    frame = ThermalScene(seed=3).frame(WATCH)
    assert frame is not None
    with pytest.raises(InputError, match="not been learned"):
        monitor.observe(frame)
    with pytest.raises(InputError, match="normal samples, 20 needed"):
        monitor.learn([frame] * 3)
    far = ThermalRoi(asset="far", x=200, y=0, width=10, height=10)
    with pytest.raises(InputError, match="outside the 128x96 frame"):
        ThermalMonitor(ThermalStageConfig(rois=[far])).learn([frame])


def test_frames_that_are_not_measurements_are_never_learned_from() -> None:
    scene = ThermalScene(seed=3)
    good = list(scene.frames(T0, WATCH, PERIOD))
    flat = [ThermalFrame(np.full((96, 128), 25.0, np.float32), f.captured_at) for f in good[:50]]
    assert ThermalMonitor(CONFIG).learn(good + flat) == len(good)


def test_config_refuses_references_that_cannot_work() -> None:
    motor = SCENE_ROIS[1]
    with pytest.raises(ValidationError, match="is not another configured asset"):
        ThermalStageConfig(rois=[motor])
    with pytest.raises(ValidationError, match="needs a reference asset"):
        ThermalStageConfig(rois=[ThermalRoi(asset="m", x=0, y=0, width=4, height=4, delta_t_limit_c=5)])
    with pytest.raises(ValidationError, match="must be unique"):
        ThermalStageConfig(rois=[SCENE_ROIS[0], SCENE_ROIS[0]])
