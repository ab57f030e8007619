"""The demo's stations: the edge.yaml the demo writes loads with the stations' cameras (the
gauging and label stations judge by their stage alone, the motor camera is time-compressed);
the feeder drops whole frames under part ids and prunes old ones; and the motor it feeds,
through the node's real thermal monitor with the demo's settings, raises no alarm while
running normally and a maintenance recommendation within the demo's first minutes."""

from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from lineguard.cli.demo_feeder import KEEP_S, SCENE_TIME, StationFeeder, heating_s
from lineguard.cli.demo_setup import DEMO_CAMERAS, DemoLayout, _write_edge_config
from lineguard.cli.demo_stations import (
    GAUGE_CAMERA,
    GAUGE_POOL,
    HEAT_C_PER_MIN,
    HEAT_S,
    LABEL_CAMERA,
    LABEL_POOL,
    NORMAL_S,
    STAGE_ONLY_THRESHOLD,
    THERMAL_CAMERA,
    THERMAL_EVERY_S,
    THERMAL_LEARN_S,
    StationLayout,
)
from lineguard.config.edge import EdgeConfig
from lineguard.edge.thermal import ThermalFolderReader, ThermalMonitor
from lineguard.edge.thermal.synthetic import Fault, ThermalScene


def _edge_config(tmp_path: Path) -> EdgeConfig:
    layout = DemoLayout(tmp_path, 8443)
    layout.root.mkdir(exist_ok=True)
    _write_edge_config(layout, {"x": 0, "y": 0, "width": 640, "height": 480}, 0.5)
    return EdgeConfig.model_validate(yaml.safe_load(layout.edge_config.read_text()))


def test_the_demo_node_has_a_camera_per_station_and_is_enrolled_with_all_of_them(tmp_path: Path) -> None:
    config = _edge_config(tmp_path)
    cameras = {c.camera_id: c for c in config.cameras}
    assert set(cameras) | {t.camera_id for t in config.thermal_cameras} == set(DEMO_CAMERAS)
    gauge, label = cameras[GAUGE_CAMERA], cameras[LABEL_CAMERA]
    assert [s.kind for s in gauge.stages] == ["gauging"] and [s.kind for s in label.stages] == ["label"]
    for station in (gauge, label):
        # The line's model runs there too, but the stage alone can fail a part.
        assert station.threshold_override == station.parts.part_threshold == STAGE_ONLY_THRESHOLD
        assert station.parts.id_source == "line" and station.source.type == "folder"
    assert cameras["cam-1"].source.type == "synthetic"  # the line itself is unchanged
    (motor,) = config.thermal_cameras
    assert motor.learn_hours * 3600 == THERMAL_LEARN_S and motor.monitor.reading_interval_s == 10.0


def test_the_motor_heats_only_after_learning_in_cycles() -> None:
    assert heating_s(0) == heating_s(THERMAL_LEARN_S + NORMAL_S) == 0.0
    assert heating_s(THERMAL_LEARN_S + NORMAL_S + 42) == 42.0
    cycle = NORMAL_S + HEAT_S
    assert heating_s(THERMAL_LEARN_S + cycle + 1) == 0.0  # "repaired": normal again
    assert heating_s(THERMAL_LEARN_S + cycle + NORMAL_S + 5) == 5.0


def _pools(stations: StationLayout) -> None:
    for folder, n in ((stations.gauge_pool, len(GAUGE_POOL)), (stations.label_pool, len(LABEL_POOL))):
        folder.mkdir(parents=True)
        for i in range(n):
            cv2.imwrite(str(folder / f"{i:02d}.png"), np.full((48, 64, 3), i, np.uint8))
    for camera_id in (GAUGE_CAMERA, LABEL_CAMERA, THERMAL_CAMERA):
        stations.frames(camera_id).mkdir(parents=True)


def test_the_feeder_drops_whole_frames_under_part_ids_and_prunes_old_ones(tmp_path: Path) -> None:
    stations = StationLayout(tmp_path)
    _pools(stations)
    stale = stations.frames(GAUGE_CAMERA) / "B-999999.png"
    cv2.imwrite(str(stale), np.zeros((4, 4, 3), np.uint8))
    old = dt.datetime.now(dt.UTC).timestamp() - KEEP_S - 10
    os.utime(stale, (old, old))
    stop, said = threading.Event(), []
    feeder = StationFeeder(stations, stop, said.append)
    feeder.start()
    try:
        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
        while feeder.fed["labels"] < 2 and dt.datetime.now(dt.UTC) < deadline:
            stop.wait(0.2)
    finally:
        stop.set()
        feeder.join(10)
    assert said == []
    brackets = sorted(p.name for p in stations.frames(GAUGE_CAMERA).glob("*.png"))
    labels = sorted(p.name for p in stations.frames(LABEL_CAMERA).glob("*.png"))
    assert brackets[:2] == ["B-000001.png", "B-000002.png"] and "B-999999.png" not in brackets
    assert labels[:2] == ["L-000001.png", "L-000002.png"]
    assert feeder.fed["brackets"] == len(brackets) and feeder.fed["labels"] == len(labels)
    # What each fed part really is, for scoring the stations' verdicts (docs/dashboard.md).
    assert set(feeder.truth) == {Path(n).stem for n in brackets + labels}
    assert feeder.truth["B-000001"] is None and feeder.truth["L-000001"] is None
    assert not any(stations.frames(GAUGE_CAMERA).joinpath(".incoming").iterdir())
    # The thermal frames are radiometric PNG16 the node's reader takes, stamped with the real time.
    reader = ThermalFolderReader(
        _edge_config(tmp_path / "cfg")
        .thermal_cameras[0]
        .source.model_copy(update={"path": stations.frames(THERMAL_CAMERA)}),
        start_at=dt.datetime.now(dt.UTC),
        strict=True,
    )
    frames = list(reader)
    assert frames and len(frames) == feeder.fed["thermal_frames"]
    assert all(abs((dt.datetime.now(dt.UTC) - f.captured_at).total_seconds()) < 60 for f in frames)


def test_the_fed_motor_raises_a_recommendation_within_minutes_and_no_alarm_before_it_heats(
    tmp_path: Path,
) -> None:
    config = _edge_config(tmp_path).thermal_cameras[0]
    # The frames the feeder makes, as the node sees them: every THERMAL_EVERY_S of demo time.
    fault = Fault("overheat", SCENE_TIME, rate_c_per_h=HEAT_C_PER_MIN * 60)
    scene = ThermalScene(seed=11, faults=(fault,), epoch=SCENE_TIME)
    start = dt.datetime(2026, 12, 6, 8, 0, tzinfo=dt.UTC)
    monitor = ThermalMonitor(config.monitor)
    first_alarm, first_recommendation = None, None
    for step in range(int(2 * (THERMAL_LEARN_S + NORMAL_S + HEAT_S) / THERMAL_EVERY_S)):
        elapsed = step * THERMAL_EVERY_S
        frame = scene.frame(SCENE_TIME + dt.timedelta(seconds=heating_s(elapsed)))
        assert frame is not None
        stamped = type(frame)(frame.celsius, start + dt.timedelta(seconds=elapsed), frame.source)
        if elapsed < THERMAL_LEARN_S:
            monitor.add_normal(stamped)
            continue
        if not monitor.learned:
            monitor.finish_learning()
        seen = monitor.observe(stamped)
        if seen.alarms and first_alarm is None:
            first_alarm = elapsed
        if seen.recommendations and first_recommendation is None:
            first_recommendation = elapsed
    heat_starts = THERMAL_LEARN_S + NORMAL_S
    assert first_alarm is not None and first_alarm > heat_starts  # nothing while running normally
    assert first_recommendation is not None
    assert heat_starts < first_recommendation <= 6 * 60  # "about five minutes" after the start
    print(f"first alarm {first_alarm:.0f} s, first recommendation {first_recommendation:.0f} s after start")


@pytest.mark.parametrize("pool", [GAUGE_POOL, LABEL_POOL])
def test_the_pools_make_some_parts_wrong_now_and_then(pool: tuple[object, ...]) -> None:
    wrong = sum(bool(p) for p in pool)
    assert 0 < wrong <= len(pool) // 5


def test_the_ppe_walkway_is_a_placeholder_that_is_off_and_says_so() -> None:
    from lineguard.cli.demo_stations import PPE_PLACEHOLDER, PPE_PLACEHOLDER_YAML

    placeholder = yaml.safe_load(PPE_PLACEHOLDER_YAML)
    assert placeholder["enabled"] is False and PPE_PLACEHOLDER_YAML.startswith("# PLACEHOLDER — OFF.")
    assert "placeholder, off" in PPE_PLACEHOLDER
    assert placeholder["camera_id"] not in DEMO_CAMERAS  # no camera is enrolled or started for it


def test_the_gauging_station_sees_the_bracket_finely_enough_for_its_spec() -> None:
    """The stage refuses a calibration too coarse for the spec's tightest band: the demo's camera
    (at the part plane, 300 mm away, 130 mm across) must be fine enough for the demo bracket."""
    from lineguard.cli.demo_stations import GAUGE_SIZE
    from lineguard.edge.gauging import __file__ as gauging_init
    from lineguard.edge.gauging import load_spec
    from lineguard.edge.gauging.spec import check_resolution

    spec, _ = load_spec(Path(gauging_init).parent / "demo_bracket.yaml")
    check_resolution(spec, mm_per_px=130.0 / GAUGE_SIZE[0], camera_id=GAUGE_CAMERA)  # raises if too coarse
