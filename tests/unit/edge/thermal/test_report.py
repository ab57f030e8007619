"""Thermal observations as stage results: one per alarm or recommendation, no part, numbers only."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from lineguard.config.edge import NodeConfig
from lineguard.config.thermal import ThermalStageConfig
from lineguard.contracts.events import IngestBatch, Verdict
from lineguard.edge.thermal import ThermalAlarm, ThermalObservation, ThermalReporter
from lineguard.edge.thermal.monitor import MaintenanceRecommendation
from lineguard.edge.thermal.synthetic import SCENE_ROIS

AT = dt.datetime(2026, 12, 5, 14, 0, tzinfo=dt.UTC)


def test_alarms_and_recommendations_become_valid_stage_results(tmp_path: Path) -> None:
    node = NodeConfig(node_id="node-1", site_id="plant-a", line_id="line-1", data_dir=tmp_path)
    reporter = ThermalReporter(
        node, ThermalStageConfig(rois=SCENE_ROIS), camera_id="cam-th", station_id="st-1"
    )
    seen = ThermalObservation(
        AT,
        valid=True,
        alarms=[
            ThermalAlarm("hot_spot", "Motor", AT, 61.234, 55.0, "hot spot 61.2 °C above its normal band"),
            ThermalAlarm("sensor_dropout", "camera", AT, None, None, "the frame is flat"),
        ],
        recommendations=[
            MaintenanceRecommendation("Motor", "motor", AT, 4.2, 4.0, 0.8, "schedule an inspection")
        ],
    )
    hot, dropout, rec = reporter.results(seen, frame_id=42)
    IngestBatch(node_id="node-1", sent_at=AT, stage_results=[hot, dropout, rec])  # the contract accepts them
    assert (hot.verdict, hot.reasons[0].code, hot.reasons[0].subject) == (Verdict.FAIL, "hot_spot", "motor")
    (value,) = hot.measurements
    assert (value.characteristic, value.value, value.upper_limit, value.unit) == (
        "motor.hot_spot",
        61.23,
        55.0,
        "degC",
    )
    assert value.uncertainty == 2.0 and value.in_tolerance is False
    assert dropout.measurements == [] and dropout.reasons[0].subject == "camera"
    assert (rec.verdict, rec.reasons[0].code) == (Verdict.UNCERTAIN, "maintenance_recommended")
    assert [(m.characteristic, m.unit) for m in rec.measurements] == [
        ("motor.trend", "degC"),
        ("motor.slope", "degC/h"),
    ]
    assert {r.part_verdict_id for r in (hot, dropout, rec)} == {None}
    assert {r.kind.value for r in (hot, dropout, rec)} == {"thermal"}
    assert len({r.result_id for r in (hot, dropout, rec)}) == 3


def test_a_reading_carries_each_assets_hottest_pixel_against_its_band_and_its_trend(tmp_path: Path) -> None:
    from lineguard.edge.thermal import Band, RoiReading

    node = NodeConfig(node_id="node-1", site_id="plant-a", line_id="line-1", data_dir=tmp_path)
    config = ThermalStageConfig(rois=SCENE_ROIS)
    reporter = ThermalReporter(node, config, camera_id="cam-th", station_id="st-1")
    band = Band(center_c=40.0, low_c=37.5, high_c=42.5, samples=300)
    seen = ThermalObservation(
        AT,
        valid=True,
        readings=[
            RoiReading(roi.asset, 43.456 if roi.asset == "motor" else 39.0, 35.0, band, None, 1.234, 0.2)
            for roi in SCENE_ROIS
        ],
    )
    reading = reporter.reading(seen, frame_id=7)
    assert reading is not None
    IngestBatch(node_id="node-1", sent_at=AT, stage_results=[reading])
    assert (reading.verdict, reading.reasons, reading.part_verdict_id) == (Verdict.PASS, [], None)
    values = {m.characteristic: m for m in reading.measurements}
    assert set(values) == {f"{roi.asset.lower()}.{what}" for roi in SCENE_ROIS for what in ("max", "trend")}
    hot = values["motor.max"]
    assert (hot.value, hot.nominal, hot.lower_limit, hot.upper_limit, hot.in_tolerance) == (
        43.46,
        40.0,
        37.5,
        42.5,
        False,
    )
    limits = {roi.asset.lower(): roi.trend_limit_c for roi in SCENE_ROIS}
    for asset, limit in limits.items():
        trend = values[f"{asset}.trend"]
        below = limit is None or limit > 1.234
        assert (trend.value, trend.upper_limit, trend.in_tolerance) == (1.23, limit, below)
    assert reporter.reading(ThermalObservation(AT, valid=False), frame_id=8) is None
