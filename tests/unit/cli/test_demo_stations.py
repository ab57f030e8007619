"""The demo's stations: the edge.yaml the demo writes loads with the stations' cameras (the
gauging and label stations judge by their stage alone, the motor camera is time-compressed);
the feeder drops whole frames under part ids and prunes old ones; and the motor it feeds,
through the node's real thermal monitor with the demo's settings, raises no alarm while
running normally and a maintenance recommendation within the demo's first minutes."""

from __future__ import annotations

import datetime as dt
import json
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
    THERMAL_LEARN_ENV,
    THERMAL_LEARN_S,
    WALKWAY_CAMERA,
    StationLayout,
)
from lineguard.cli.demo_walkway import (
    WALKWAY_MIN_COUNT,
    WALKWAY_PRIVACY,
    WALKWAY_SIZE,
    WALKWAY_ZONE,
    WalkwayFed,
    ensure_walkway_pool,
    walkway_summary,
)
from lineguard.config.edge import EdgeConfig, NodeConfig, PpeCameraConfig
from lineguard.contracts.errors import InputError
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
    others = [*config.thermal_cameras, *config.ppe_cameras]
    assert set(cameras) | {c.camera_id for c in others} == set(DEMO_CAMERAS)
    gauge, label = cameras[GAUGE_CAMERA], cameras[LABEL_CAMERA]
    assert [s.kind for s in gauge.stages] == ["gauging"] and [s.kind for s in label.stages] == ["label"]
    for station in (gauge, label):
        # The line's model runs there too, but the stage alone can fail a part.
        assert station.threshold_override == station.parts.part_threshold == STAGE_ONLY_THRESHOLD
        assert station.parts.id_source == "line" and station.source.type == "folder"
    assert cameras["cam-1"].source.type == "synthetic"  # the line itself is unchanged
    (motor,) = config.thermal_cameras
    assert motor.learn_hours * 3600 == THERMAL_LEARN_S and motor.monitor.reading_interval_s == 10.0


def test_a_shorter_learning_period_reaches_the_node_and_the_feeder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(THERMAL_LEARN_ENV, "60")
    (motor,) = _edge_config(tmp_path).thermal_cameras
    assert motor.learn_hours * 3600 == 60.0
    assert heating_s(60 + NORMAL_S, learn_s=60) == 0.0
    assert heating_s(60 + NORMAL_S + 42, learn_s=60) == 42.0


@pytest.mark.parametrize("value", ["59", "3601", "two minutes", "nan", ""])
def test_a_learning_period_out_of_bounds_is_refused_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(THERMAL_LEARN_ENV, value)
    with pytest.raises(
        InputError, match=f"{THERMAL_LEARN_ENV} must be seconds from 60 to 3600, got {value!r}"
    ):
        _edge_config(tmp_path)


def test_the_motor_heats_only_after_learning_in_cycles() -> None:
    assert heating_s(0) == heating_s(THERMAL_LEARN_S + NORMAL_S) == 0.0
    assert heating_s(THERMAL_LEARN_S + NORMAL_S + 42) == 42.0
    cycle = NORMAL_S + HEAT_S
    assert heating_s(THERMAL_LEARN_S + cycle + 1) == 0.0  # "repaired": normal again
    assert heating_s(THERMAL_LEARN_S + cycle + NORMAL_S + 5) == 5.0


def _pools(stations: StationLayout) -> None:
    pools = ((stations.gauge_pool, len(GAUGE_POOL)), (stations.label_pool, len(LABEL_POOL)))
    for folder, n in (*pools, (stations.walkway_pool, 2)):
        folder.mkdir(parents=True)
        for i in range(n):
            cv2.imwrite(str(folder / f"{i:02d}.png"), np.full((48, 64, 3), i, np.uint8))
    scenes = [
        {"people": 3, "lacking": {"helmet": 1, "hi_vis_vest": 0}},
        {"people": 1, "lacking": {"helmet": 0}},
    ]
    (stations.walkway_pool / "truth.json").write_text(json.dumps(scenes))
    for camera_id in (GAUGE_CAMERA, LABEL_CAMERA, THERMAL_CAMERA, WALKWAY_CAMERA):
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
        while min(feeder.fed["labels"], 2 * feeder.fed["walkway_frames"]) < 2 and (
            dt.datetime.now(dt.UTC) < deadline
        ):
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
    # The walkway's frames, and per hour what they held (kept for scoring the server's counts).
    walkway = sorted(p.name for p in stations.frames(WALKWAY_CAMERA).glob("*.png"))
    assert walkway[0] == "W-000001.png" and len(walkway) == feeder.fed["walkway_frames"]
    fed = WalkwayFed.read(stations)
    assert sum(h["frames"] for h in fed.values()) == len(walkway)
    assert sum(h["people"] for h in fed.values()) >= 3  # the first frame held three people
    assert sum(h["lacking"]["helmet"] for h in fed.values()) >= 1
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


def test_the_walkway_counts_ppe_for_the_demo_only_with_its_zone_off_the_door(tmp_path: Path) -> None:
    from lineguard.config.ppe import PpeSettings, overlap_area

    (walkway,) = _edge_config(tmp_path).ppe_cameras
    assert walkway.camera_id == WALKWAY_CAMERA and walkway.source.type == "folder"
    # Off in the product; the demo enables it, saying why it may (its people are generated).
    assert PpeSettings(zones=walkway.ppe.zones).enabled is False
    assert walkway.ppe.enabled and "generated" in walkway.ppe.legal_basis
    (zone,) = walkway.ppe.zones
    (door,) = walkway.privacy_zones
    assert overlap_area(zone.rect, door.points) == 0.0  # privacy wins; here nothing to win
    assert zone.x + zone.width <= WALKWAY_SIZE[0] and zone.y + zone.height <= WALKWAY_SIZE[1]
    assert walkway.ppe.min_count == WALKWAY_MIN_COUNT and door.name == WALKWAY_PRIVACY["name"]


@pytest.mark.slow
def test_the_walkway_frames_through_the_nodes_counter_give_counts_near_what_was_fed(tmp_path: Path) -> None:
    """The rendered pool, blacked out at the door as capture does, through the node's real person
    detector and PPE classifier: one hour's counts, above the minimum, near the pool's truth."""
    from lineguard.edge.pipeline.ppe import DetectorFinder
    from lineguard.edge.ppe import PpeClassifier, PpeCounter
    from lineguard.edge.redact import PersonDetector
    from lineguard.vision.preprocess import read_image

    stations = StationLayout(tmp_path)
    ensure_walkway_pool(stations)
    truth = json.loads((stations.walkway_pool / "truth.json").read_text())
    camera = PpeCameraConfig.model_validate(_edge_config(tmp_path / "cfg").ppe_cameras[0])
    node = NodeConfig.model_validate({"node_id": "n", "site_id": "s", "line_id": "l", "data_dir": tmp_path})
    counter = PpeCounter(
        node, camera, finder=DetectorFinder(PersonDetector(threads=1)), classifier=PpeClassifier.load()
    )
    hour = dt.datetime(2026, 12, 6, 11, tzinfo=dt.UTC)
    frames = sorted(stations.walkway_pool.glob("*.png"))
    assert len(frames) == len(truth)
    for i, path in enumerate(frames):
        image = read_image(path)
        image[:, WALKWAY_PRIVACY["points"][0][0] :] = 0  # the door, as capture blacks it out
        assert counter.observe(image, hour + dt.timedelta(seconds=6 * i)) == []  # the hour is open
    (counts,) = counter.close()
    fed = sum(t["people"] for t in truth)
    assert counts.zone == WALKWAY_ZONE["name"] and counts.sampled_frames == len(frames)
    assert counts.people_seen is not None and WALKWAY_MIN_COUNT <= counts.people_seen <= fed
    assert counts.people_seen >= 0.7 * fed  # the detector misses some (docs/benchmarks.md, bench_ppe)
    for item in counts.items:
        lacking = sum(t["lacking"][item.item] for t in truth)
        assert item.lacking is not None and abs(item.lacking - lacking) <= max(3, lacking // 3)


def test_the_walkway_score_says_each_hour_fed_beside_its_counts_or_that_they_are_not_in_yet(
    tmp_path: Path,
) -> None:
    from lineguard.server.ppe.schemas import PpeHourView

    stations = StationLayout(tmp_path)
    stations.walkway_fed.parent.mkdir(parents=True)
    assert walkway_summary(stations, []) == "nothing fed yet"
    stations.walkway_fed.write_text(
        json.dumps(
            {
                "2026-12-06T10:00:00+00:00": {"frames": 600, "people": 1200, "lacking": {"helmet": 3}},
                "2026-12-06T11:00:00+00:00": {"frames": 10, "people": 20, "lacking": {"helmet": 6}},
            }
        )
    )
    counted = PpeHourView(
        line_id="line-1",
        station_id="st-50-walkway",
        camera_id=WALKWAY_CAMERA,
        zone="walkway",
        hour_start=dt.datetime(2026, 12, 6, 10, tzinfo=dt.UTC),
        sampled_frames=598,
        people_seen=1100,
        lacking={"helmet": None, "hi_vis_vest": 240},
        suppressed=False,
    )
    said = walkway_summary(stations, [counted])
    assert said.startswith("10:00 UTC: 1200 people fed / 1100 counted (600 frames fed / 598 looked at)")
    assert "no helmet 3 fed / suppressed" in said and "no hi vis vest 0 fed / 240" in said
    assert said.endswith(
        "11:00 UTC: 20 people fed in 10 frames, counts arrive when the hour ends or the demo stops"
    )


def test_the_gauging_station_sees_the_bracket_finely_enough_for_its_spec() -> None:
    """The stage refuses a calibration too coarse for the spec's tightest band: the demo's camera
    (at the part plane, 300 mm away, 130 mm across) must be fine enough for the demo bracket."""
    from lineguard.cli.demo_stations import GAUGE_SIZE
    from lineguard.edge.gauging import __file__ as gauging_init
    from lineguard.edge.gauging import load_spec
    from lineguard.edge.gauging.spec import check_resolution

    spec, _ = load_spec(Path(gauging_init).parent / "demo_bracket.yaml")
    check_resolution(spec, mm_per_px=130.0 / GAUGE_SIZE[0], camera_id=GAUGE_CAMERA)  # raises if too coarse
