"""The PPE worker between capture and outbox: sampling by capture time, a detector failure skips its
frame with one alert per run of failures, and the open hour is saved when the worker stops and goes out
at the next start once it is over (tests/unit/edge/ppe/test_open_hour.py has the restarts).

The failing finder is a fake: the vendored models do not fail on demand (a damaged model file is
refused at start, tested in test_node_ppe.py)."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import numpy as np

from lineguard.contracts.events import AlertKind, AlertSeverity
from lineguard.contracts.ppe import PpeCounts
from lineguard.contracts.types import CapturedFrame, Frame
from lineguard.edge.outbox import Outbox
from lineguard.edge.pipeline.camera import Arrival, CameraStats
from lineguard.edge.pipeline.ppe import PpeWorker
from lineguard.edge.ppe import PersonBox, PpeClassifier, PpeCounter
from lineguard.edge.redact import RedactionError
from lineguard.edge.workers import LatestQueue
from tests.unit.edge.ppe.test_config import _config, ppe_camera

T0 = dt.datetime(2026, 12, 6, 7, 0, 5, tzinfo=dt.UTC)


class FailingFinder:
    """Raises for the frames listed in ``fail``, finds nobody otherwise."""

    def __init__(self, fail: set[int]) -> None:
        self.fail, self.calls = fail, 0

    def people(self, image: Frame) -> list[PersonBox]:
        self.calls += 1
        if self.calls in self.fail:
            msg = "person model returned non-finite values"
            raise RedactionError(msg)
        return []


def test_sampling_detector_failures_and_the_last_hour(tmp_path: Path) -> None:
    config = _config(tmp_path, ppe_camera(sample_interval_s=2.0))
    camera = config.ppe_cameras[0]
    finder = FailingFinder(fail={2, 3})
    counter = PpeCounter(config.node, camera, finder=finder, classifier=PpeClassifier.load())
    queue: LatestQueue[Arrival] = LatestQueue(2)
    outbox = Outbox(tmp_path / "outbox.db")
    alerts: list[tuple[AlertKind, AlertSeverity, str]] = []
    stats = CameraStats("cam-walk")
    worker = PpeWorker(
        threading.Event(),
        camera=camera,
        counter=counter,
        queue=queue,
        outbox=outbox,
        stats=stats,
        alert=lambda kind, severity, message: alerts.append((kind, severity, message)),
    )
    image = np.zeros((480, 640, 3), np.uint8)
    for i, seconds in enumerate([0, 1, 2, 4, 6, 7]):  # 1 s and 7 s come too soon after the last sample
        queue.put(Arrival(CapturedFrame("cam-walk", i, T0 + dt.timedelta(seconds=seconds), image), 0))
        worker.step()
    # Sampled: 0 s (ok), 2 s (fails), 4 s (fails), 6 s (ok); skipped by the interval: 1 s, 7 s.
    assert finder.calls == 4 and worker.detector_errors == 2 and stats.frames_inspected == 2
    assert alerts == [
        (
            AlertKind.STAGE_REJECTED,
            AlertSeverity.WARNING,
            "frame not counted: person model returned non-finite values",
        )
    ]
    worker.teardown()
    assert outbox.pending(10) == []  # the hour is not over: saved, not sent
    restarted = PpeWorker(
        threading.Event(),
        camera=camera,
        counter=PpeCounter(config.node, camera, finder=finder, classifier=PpeClassifier.load()),
        queue=queue,
        outbox=outbox,
        stats=stats,
        alert=lambda kind, severity, message: alerts.append((kind, severity, message)),
        clock=lambda: T0 + dt.timedelta(hours=1),
    )
    restarted.setup()
    (item,) = outbox.pending(10)
    counts = PpeCounts.model_validate_json(item.body)
    assert counts.sampled_frames == 2 and counts.people_seen == 0  # the failed frames left no trace
    outbox.close()
