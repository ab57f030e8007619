"""A restart inside an hour: the node keeps the open hour's tallies on its disk and sends the hour once, as
a whole, when it is over, so a small part after the restart is neither suppressed alone nor revealed by
differencing two reports of the hour. A saved file that is corrupt, edited, of another camera or of
other zones is never merged: set aside (kept) with an alert, or sent as it stands.

The finder is scripted (which boxes a frame holds); the classifier is the shipped one; the worker runs
its lifecycle methods in the test's thread with a real outbox."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lineguard.config.edge import EdgeConfig
from lineguard.contracts.events import AlertKind, AlertSeverity
from lineguard.contracts.ppe import PpeCounts
from lineguard.contracts.types import CapturedFrame
from lineguard.edge.outbox import Outbox
from lineguard.edge.pipeline.camera import Arrival, CameraStats
from lineguard.edge.pipeline.ppe import PpeWorker
from lineguard.edge.ppe import PersonBox, PpeClassifier, PpeCounter, ScriptedFinder
from lineguard.edge.ppe.open_hour import open_hour_path
from lineguard.edge.workers import LatestQueue
from tests.unit.edge.ppe.test_config import _config, ppe_camera
from tests.unit.edge.ppe.test_counter import _frame_with

HOUR = dt.datetime(2026, 12, 6, 7, tzinfo=dt.UTC)
Alerts = list[tuple[AlertKind, AlertSeverity, str]]


@pytest.fixture(scope="module")
def classifier() -> PpeClassifier:
    return PpeClassifier.load()


@pytest.fixture(scope="module")
def two_people() -> tuple[np.ndarray, list[PersonBox]]:
    return _frame_with([(False, True, 200), (True, True, 450)])  # one lacks a helmet


def _node(tmp_path: Path, **ppe: Any) -> EdgeConfig:
    return _config(tmp_path, ppe_camera(min_count=5, **ppe))


class _Run:
    """One run of the PPE worker (start to stop) on a real outbox, frames handed to ``step``."""

    def __init__(
        self, config: EdgeConfig, classifier: PpeClassifier, boxes: list[PersonBox], now: dt.datetime
    ) -> None:
        camera = config.ppe_cameras[0]
        self.counter = PpeCounter(config.node, camera, finder=ScriptedFinder([boxes]), classifier=classifier)
        self.queue: LatestQueue[Arrival] = LatestQueue(2)
        self.outbox = Outbox(config.node.data_dir / "outbox.db")
        self.alerts: Alerts = []
        self.worker = PpeWorker(
            threading.Event(),
            camera=camera,
            counter=self.counter,
            queue=self.queue,
            outbox=self.outbox,
            stats=CameraStats(camera.camera_id),
            alert=lambda kind, severity, message: self.alerts.append((kind, severity, message)),
            clock=lambda: now,
        )
        self.worker.setup()

    def frames(self, image: np.ndarray, *moments: dt.datetime) -> None:
        for i, moment in enumerate(moments):
            self.queue.put(Arrival(CapturedFrame("cam-walk", i, moment, image), 0))
            self.worker.step()

    def stop(self) -> list[PpeCounts]:
        """Teardown; every PPE message the outbox holds so far."""
        self.worker.teardown()
        sent = [PpeCounts.model_validate_json(i.body) for i in self.outbox.pending(1000) if i.kind == "ppe"]
        self.outbox.close()
        return sent


def _minutes(*m: int) -> list[dt.datetime]:
    return [HOUR + dt.timedelta(minutes=x) for x in m]


def test_a_restart_inside_the_hour_sends_the_hour_once_as_a_whole(
    tmp_path: Path, classifier: PpeClassifier, two_people: tuple[np.ndarray, list[PersonBox]]
) -> None:
    config = _node(tmp_path)
    image, boxes = two_people
    first = _Run(config, classifier, boxes, now=HOUR)
    first.frames(image, *_minutes(0, 1, 2))  # 6 sightings
    assert first.stop() == []  # the stop sends nothing: the hour is not over
    assert open_hour_path(config.node.data_dir, "cam-walk").exists()

    second = _Run(config, classifier, boxes, now=HOUR + dt.timedelta(minutes=20))  # same hour: goes on
    assert second.stop() == []
    third = _Run(config, classifier, boxes, now=HOUR + dt.timedelta(minutes=21))
    third.frames(image, *_minutes(30))  # 2 sightings after the restart: alone, below min_count 5
    third.frames(image, HOUR + dt.timedelta(hours=1, minutes=1))  # 08:01 closes the 07:00 hour
    (row,) = third.stop()
    assert (row.hour_start, row.sampled_frames, row.people_seen) == (HOUR, 4, 8)
    # Split, the 2nd part (2 sightings) would have hidden the whole hour; whole, only what is itself
    # small is: 4 of 8 lacked a helmet, below 5.
    assert {i.item: i.lacking for i in row.items} == {"helmet": None, "hi_vis_vest": 0}
    assert third.alerts == []
    saved = json.loads(open_hour_path(config.node.data_dir, "cam-walk").read_bytes())
    assert saved["hour_start"].startswith("2026-12-06T08:00") and saved["zones"]["aisle"]["seen"] == 2


def test_an_hour_over_by_the_next_start_is_sent_at_start_and_a_crash_resends_the_same_message(
    tmp_path: Path, classifier: PpeClassifier, two_people: tuple[np.ndarray, list[PersonBox]]
) -> None:
    config = _node(tmp_path)
    image, boxes = two_people
    first = _Run(config, classifier, boxes, now=HOUR)
    first.frames(image, *_minutes(5, 6, 7))
    assert first.stop() == []
    saved = open_hour_path(config.node.data_dir, "cam-walk").read_bytes()

    later = _Run(config, classifier, boxes, now=HOUR + dt.timedelta(hours=3))  # the node was off for hours
    (row,) = later.stop()
    assert (row.hour_start, row.people_seen) == (HOUR, 6)
    assert not open_hour_path(config.node.data_dir, "cam-walk").exists()  # sent: nothing left to take up

    # A crash after the message was queued but before the file was updated: the next start sends the
    # same message again (same counts_id and idempotency key), which the server stores once.
    open_hour_path(config.node.data_dir, "cam-walk").write_bytes(saved)
    again = _Run(config, classifier, boxes, now=HOUR + dt.timedelta(hours=3))
    repeated = again.stop()
    assert repeated[-1] == row


def _rewrite(path: Path, edit: Any, *, fix_digest: bool) -> None:
    body = json.loads(path.read_bytes())
    stated = body.pop("sha256")
    edit(body)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    body["sha256"] = hashlib.sha256(canonical).hexdigest() if fix_digest else stated
    path.write_text(json.dumps(body))


def _seen(body: dict[str, Any], n: int) -> None:
    body["zones"]["aisle"]["seen"] = n


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda p: p.write_bytes(b"{not json"), "cannot be read as a PPE open hour"),
        (lambda p: p.write_text(json.dumps({"camera_id": "cam-walk"})), "no digest"),
        (lambda p: _rewrite(p, lambda b: _seen(b, 1), fix_digest=False), "corrupt or edited"),
        (
            lambda p: _rewrite(p, lambda b: b.update(camera_id="cam-other"), fix_digest=True),
            "holds the open hour of camera 'cam-other'",
        ),
        (lambda p: _rewrite(p, lambda b: _seen(b, 1), fix_digest=True), "above seen 1"),
        (lambda p: _rewrite(p, lambda b: _seen(b, -3), fix_digest=True), "is not a PPE open hour"),
        (
            lambda p: _rewrite(
                p, lambda b: b["zones"]["aisle"].update(lacking={"gloves": 0}), fix_digest=True
            ),
            "unknown PPE item",
        ),
        (
            lambda p: _rewrite(p, lambda b: b.update(hour_start="2026-12-06T07:30:00Z"), fix_digest=True),
            "is not on the hour",
        ),
        (lambda p: _rewrite(p, lambda b: b.update(person="x"), fix_digest=True), "is not a PPE open hour"),
    ],
    ids=[
        "unparsable",
        "no-digest",
        "edited",
        "other-camera",
        "lacking-over-seen",
        "negative",
        "unknown-item",
        "off-the-hour",
        "extra-field",
    ],
)
def test_a_saved_hour_that_cannot_be_taken_up_is_set_aside_with_an_alert_and_counting_starts_afresh(
    tmp_path: Path,
    classifier: PpeClassifier,
    two_people: tuple[np.ndarray, list[PersonBox]],
    damage: Any,
    expected: str,
) -> None:
    config = _node(tmp_path)
    image, boxes = two_people
    first = _Run(config, classifier, boxes, now=HOUR)
    first.frames(image, *_minutes(0, 1, 2))
    first.stop()
    path = open_hour_path(config.node.data_dir, "cam-walk")
    damage(path)
    damaged = path.read_bytes()

    second = _Run(config, classifier, boxes, now=HOUR + dt.timedelta(minutes=10))
    ((kind, severity, message),) = second.alerts
    assert (kind, severity) == (AlertKind.STAGE_REJECTED, AlertSeverity.WARNING)
    assert expected in message and "kept as cam-walk.open-hour.rejected-" in message
    (kept,) = path.parent.glob("cam-walk.open-hour.rejected-*.json")
    assert kept.read_bytes() == damaged  # nothing lost: the file is there for a person to look at
    second.frames(image, *_minutes(30, 31, 32), HOUR + dt.timedelta(hours=1))
    (row,) = second.stop()
    assert (row.sampled_frames, row.people_seen) == (3, 6)  # only what was counted after the restart


def test_changed_zones_send_the_saved_part_as_it_stands_suppressed_alone(
    tmp_path: Path, classifier: PpeClassifier, two_people: tuple[np.ndarray, list[PersonBox]]
) -> None:
    image, boxes = two_people
    first = _Run(_node(tmp_path), classifier, boxes, now=HOUR)
    first.frames(image, *_minutes(0))  # 2 sightings in "aisle"
    first.stop()
    changed = _node(
        tmp_path,
        zones=[{"name": "aisle", "x": 0, "y": 100, "width": 640, "height": 380, "required": ["helmet"]}],
    )
    second = _Run(changed, classifier, boxes, now=HOUR + dt.timedelta(minutes=5))
    (row,) = second.stop()
    assert (row.hour_start, row.sampled_frames) == (HOUR, 1)
    assert row.suppressed and {i.item for i in row.items} == {"helmet", "hi_vis_vest"}  # the old zone's items
    assert not open_hour_path(changed.node.data_dir, "cam-walk").exists()


def test_a_disk_that_refuses_the_open_hour_raises_one_alert_and_counting_goes_on(
    tmp_path: Path, classifier: PpeClassifier, two_people: tuple[np.ndarray, list[PersonBox]]
) -> None:
    config = _node(tmp_path)
    image, boxes = two_people
    (config.node.data_dir / "ppe").parent.mkdir(parents=True, exist_ok=True)
    (config.node.data_dir / "ppe").write_text("a file where the folder should be")
    run = _Run(config, classifier, boxes, now=HOUR)
    run.frames(image, *_minutes(0, 1, 2))
    ((kind, severity, message),) = run.alerts
    assert (kind, severity) == (AlertKind.STAGE_REJECTED, AlertSeverity.WARNING)
    assert message.startswith("open hour not saved")
    run.frames(image, HOUR + dt.timedelta(hours=1))
    (row,) = run.stop()
    assert (row.sampled_frames, row.people_seen) == (3, 6)


def test_send_open_hour_at_stop_sends_the_part_so_far_and_saves_nothing(
    tmp_path: Path, classifier: PpeClassifier, two_people: tuple[np.ndarray, list[PersonBox]]
) -> None:
    """The demo's setting: the hour so far goes out at the stop; a restart begins a second part, which
    the server adds up or, when small, shows with the first as suppressed."""
    config = _node(tmp_path, send_open_hour_at_stop=True)
    image, boxes = two_people
    first = _Run(config, classifier, boxes, now=HOUR)
    first.frames(image, *_minutes(0, 1, 2))
    (row,) = first.stop()
    assert (row.hour_start, row.people_seen) == (HOUR, 6)
    assert not open_hour_path(config.node.data_dir, "cam-walk").exists()
    second = _Run(config, classifier, boxes, now=HOUR + dt.timedelta(minutes=5))
    second.frames(image, *_minutes(10))
    first_part, second_part = second.stop()
    assert first_part == row and (second_part.hour_start, second_part.people_seen) == (HOUR, None)
    assert second_part.counts_id != row.counts_id


def test_a_bad_file_that_cannot_be_moved_aside_is_reported_and_counting_starts(
    tmp_path: Path, classifier: PpeClassifier, two_people: tuple[np.ndarray, list[PersonBox]]
) -> None:
    """A non-empty folder where the rejected copy should go (named by the second it is set aside, so
    the next ten seconds' names are taken) makes the rename fail: the alert says so, the counter still
    starts (nothing of the unreadable file is merged)."""
    config = _node(tmp_path)
    image, boxes = two_people
    path = open_hour_path(config.node.data_dir, "cam-walk")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"{not json")
    start = dt.datetime.now(dt.UTC)
    for s in range(10):
        taken = (
            path.parent / f"cam-walk.open-hour.rejected-{start + dt.timedelta(seconds=s):%Y%m%dT%H%M%S}.json"
        )
        (taken / "occupied").mkdir(parents=True)
    run = _Run(config, classifier, boxes, now=HOUR)
    ((_, _, message),) = run.alerts
    assert "cannot be read as a PPE open hour" in message and "could not be moved" in message
    run.frames(image, *_minutes(0, 1, 2), HOUR + dt.timedelta(hours=1))
    (row,) = run.stop()
    assert (row.sampled_frames, row.people_seen) == (3, 6)
