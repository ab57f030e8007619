"""Drift monitoring: image statistics, the calibrated charts, causes, episodes, bad input."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from lineguard.config.edge import DriftConfig
from lineguard.contracts.errors import InputError
from lineguard.contracts.events import AlertKind
from lineguard.contracts.types import CapturedFrame
from lineguard.edge.decide import StationMonitor
from lineguard.edge.drift import DriftMonitor, ImageStats, image_stats
from lineguard.edge.infer import StaticRunner
from lineguard.edge.outbox import Outbox, build_batch
from lineguard.edge.pipeline import Arrival, CameraStats, InspectWorker
from tests.unit.edge.support import camera, edge_config

CONFIG = DriftConfig(reference_parts=200, persistence_parts=15, horizon_parts=1_000)


def _part(rng: np.random.Generator, *, gain: float = 1.0, blur: float = 0.0, shift: int = 0) -> np.ndarray:
    """A bright part with holes on a dark belt, with sensor noise, seen through a 160×120 region."""
    img = np.full((120, 160), 40, np.uint8)
    cv2.rectangle(img, (40 + shift, 25), (120 + shift, 95), 180, -1)
    for cx in (60, 100):
        cv2.circle(img, (cx + shift, 60), 8, 40, -1)
    noisy = img.astype(np.float32) * gain + rng.normal(0, 3, img.shape)
    out = np.clip(noisy, 0, 255).astype(np.uint8)
    return cv2.GaussianBlur(out, (0, 0), blur) if blur > 0 else out


def _feed(monitor: DriftMonitor, rng: np.random.Generator, n: int, **change: float) -> list[str]:
    causes = []
    for _ in range(n):
        score = float(rng.normal(1.0, 0.05))
        finding = monitor.observe(image_stats(_part(rng, **change)), score)
        if finding is not None:
            causes.append(finding.cause)
    return causes


def test_statistics_move_with_what_they_stand_for() -> None:
    rng = np.random.default_rng(1)
    base = image_stats(_part(rng))
    assert image_stats(_part(rng, gain=0.7)).brightness < base.brightness - 20
    assert image_stats(_part(rng, blur=2.0)).focus < base.focus - 0.5
    moved = image_stats(_part(rng, shift=15))
    assert moved.position_x > base.position_x + 0.05
    assert abs(moved.position_y - base.position_y) < 0.01


def test_a_stationary_line_raises_nothing_over_many_parts() -> None:
    rng = np.random.default_rng(2)
    monitor = DriftMonitor(CONFIG, threshold=2.0)
    assert _feed(monitor, rng, 200) == [] and monitor.state == "watching"
    assert _feed(monitor, rng, 2_000) == []
    assert monitor.parts_watched == 2_000


@pytest.mark.parametrize(
    ("change", "cause"),
    [({"gain": 0.8}, "lighting"), ({"blur": 1.5}, "focus"), ({"shift": 6}, "position")],
)
def test_a_physical_change_is_raised_once_with_its_cause(change: dict[str, float], cause: str) -> None:
    rng = np.random.default_rng(3)
    monitor = DriftMonitor(CONFIG, threshold=2.0)
    _feed(monitor, rng, 200)
    assert _feed(monitor, rng, 300, **change) == [cause]  # one finding per episode, not one per part
    assert monitor.state == "drifted"
    assert monitor.last_finding is not None and monitor.last_finding.parts_watched <= 100
    assert cause in monitor.last_finding.message or "sharpness" in monitor.last_finding.message


def test_scores_moving_alone_mean_the_model_is_stale() -> None:
    rng = np.random.default_rng(4)
    monitor = DriftMonitor(CONFIG, threshold=2.0)
    for _ in range(200):
        monitor.observe(image_stats(_part(rng)), float(rng.normal(1.0, 0.05)))
    findings = [monitor.observe(image_stats(_part(rng)), float(rng.normal(1.3, 0.05))) for _ in range(200)]
    [finding] = [f for f in findings if f is not None]
    assert finding.cause == "model" and "retrain" in finding.message
    assert set(finding.moved) == {"score"}


def test_failed_parts_feed_images_but_not_scores() -> None:
    rng = np.random.default_rng(5)
    monitor = DriftMonitor(CONFIG, threshold=2.0)
    for _ in range(200):
        monitor.observe(image_stats(_part(rng)), float(rng.normal(1.0, 0.05)))
    # Defective parts (score None: they failed) with high scores do not make the model "stale".
    assert [monitor.observe(image_stats(_part(rng)), None) for _ in range(300)] == [None] * 300


def test_the_monitor_rearms_after_the_line_comes_back_and_a_reset_starts_a_new_reference() -> None:
    rng = np.random.default_rng(6)
    monitor = DriftMonitor(CONFIG, threshold=2.0)
    _feed(monitor, rng, 200)
    assert _feed(monitor, rng, 200, gain=0.8) == ["lighting"]
    assert _feed(monitor, rng, 300) == [] and monitor.state == "watching"  # fixed: re-armed
    assert _feed(monitor, rng, 200, gain=0.8) == ["lighting"]  # a second episode is raised again
    monitor.reset(3.0)
    assert monitor.state == "reference" and monitor.threshold == 3.0
    assert _feed(monitor, rng, 400, gain=0.8) == []  # the new lighting is the new reference


def test_snapshot_reports_the_reference_in_progress_then_each_statistic() -> None:
    rng = np.random.default_rng(7)
    monitor = DriftMonitor(CONFIG, threshold=2.0)
    _feed(monitor, rng, 50)
    snap = monitor.snapshot()
    assert (snap["state"], snap["reference_collected"], snap["statistics"]) == ("reference", 50, {})
    _feed(monitor, rng, 160)
    snap = monitor.snapshot()
    stats = snap["statistics"]
    assert isinstance(stats, dict) and set(stats) == {
        "brightness",
        "contrast",
        "focus",
        "position_x",
        "position_y",
        "score",
    }
    assert snap["state"] == "watching" and snap["parts_watched"] == 10


def test_disabled_monitoring_observes_nothing() -> None:
    monitor = DriftMonitor(DriftConfig(enabled=False), threshold=1.0)
    rng = np.random.default_rng(8)
    assert _feed(monitor, rng, 400, gain=0.5) == [] and monitor.state == "off"


def test_non_finite_values_are_skipped_not_charted() -> None:
    rng = np.random.default_rng(9)
    monitor = DriftMonitor(CONFIG, threshold=2.0)
    _feed(monitor, rng, 200)
    nan = ImageStats(float("nan"), float("nan"), float("nan"), float("nan"), float("nan"))
    assert [monitor.observe(nan, float("inf")) for _ in range(100)] == [None] * 100
    assert _feed(monitor, rng, 100) == []


def test_bad_images_and_settings_are_refused_clearly() -> None:
    with pytest.raises(InputError, match="non-empty uint8"):
        image_stats(np.zeros((0, 5), np.uint8))
    with pytest.raises(InputError, match="uint8"):
        image_stats(np.zeros((10, 10), np.float32))
    with pytest.raises(ValidationError, match="persistence_parts must be smaller"):
        DriftConfig(persistence_parts=500, horizon_parts=400)
    with pytest.raises(ValidationError):
        DriftConfig(reference_parts=10)


def test_the_inspect_worker_raises_a_drift_alert_when_the_lights_dim(tmp_path: Path) -> None:
    """Through the real inspect worker: parts close, the reference fills, dimmed parts raise
    one ``drift`` alert on the part's decisive event, and the node status shows the state."""
    config = edge_config(
        tmp_path / "node",
        [
            camera(
                "cam-1",
                tmp_path / "model",
                parts={"id_source": "line"},
                drift={"reference_parts": 60, "persistence_parts": 10, "horizon_parts": 500},
            )
        ],
    )
    outbox = Outbox(tmp_path / "outbox.db")
    worker = InspectWorker(
        threading.Event(),
        node=config.node,
        camera=config.cameras[0],
        runner=StaticRunner(score_fn=lambda image: float(image.mean()) / 1000, threshold=0.5),
        model_version=1,
        queue=None,  # type: ignore[arg-type]  # frames are handed to inspect() directly
        stats=CameraStats("cam-1"),
        outbox=outbox,
        gate=None,
        monitor=StationMonitor(),
    )
    rng = np.random.default_rng(10)
    start = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
    fid = 0
    for n in range(160):
        image = cv2.cvtColor(_part(rng, gain=1.0 if n < 100 else 0.75), cv2.COLOR_GRAY2BGR)
        for _ in range(2):
            frame = CapturedFrame("cam-1", fid, start + timedelta(seconds=fid), image, part_id=f"P-{n}")
            worker.inspect(Arrival(frame, time.perf_counter_ns()))
            fid += 1
    batch = build_batch("node-1", outbox.pending(2_000))
    drift = [a for a in batch.alerts if a.kind is AlertKind.DRIFT]
    assert len(drift) == 1, [a.message for a in batch.alerts]
    assert "lighting" in drift[0].message and "brightness" in drift[0].message
    assert drift[0].event_id in {e.event_id for e in batch.events}
    assert worker.stats.drift["state"] == "drifted"
    worker.use_model(StaticRunner(threshold=0.5), worker.model_ref)  # a new model: a new reference
    assert worker.drift.state == "reference"
    outbox.close()
