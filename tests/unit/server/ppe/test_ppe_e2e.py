"""PPE counts end to end: generated walkway frames → the node's counter (the real redaction person
detector and the shipped classifier) → its outbox → its sender over HTTPS + mTLS → the server
(SQLite and PostgreSQL), which stores only the hourly counts, suppressed again with its own minimum."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from lineguard.config.edge import EdgeConfig
from lineguard.edge.identity import enroll
from lineguard.edge.outbox import Outbox
from lineguard.edge.pipeline.ppe import DetectorFinder
from lineguard.edge.ppe import PpeClassifier, PpeCounter
from lineguard.edge.ppe.render import walkway_scenes
from lineguard.edge.redact import PersonDetector
from lineguard.server.ingest.models import InspectionEventRow, StageResultRow
from lineguard.server.ppe import PpeCountRow, ppe_report
from tests.support.label_node import send_outbox
from tests.unit.server.conftest import Plant

pytestmark = pytest.mark.slow

HOUR = dt.datetime(2026, 12, 6, 6, tzinfo=dt.UTC)


def _config(data_dir: Path) -> EdgeConfig:
    return EdgeConfig.model_validate(
        {
            "kind": "edge",
            "node": {
                "node_id": "node-walk",
                "site_id": "plant-a",
                "line_id": "line-1",
                "data_dir": str(data_dir),
            },
            "cameras": [
                {
                    "camera_id": "cam-1",
                    "station_id": "st-10",
                    "source": {"type": "synthetic"},
                    "model": "/opt/models/x",
                    "evidence": {"full_frame": True, "full_frame_purpose": "unit test: nobody is filmed"},
                }
            ],
            "ppe_cameras": [
                {
                    "camera_id": "cam-walk",
                    "station_id": "walkway",
                    "source": {"type": "synthetic"},
                    "ppe": {
                        "enabled": True,
                        "legal_basis": "GDPR Art. 6(1)(f): workplace safety (test)",
                        "zones": [{"name": "aisle", "x": 0, "y": 200, "width": 640, "height": 280}],
                        "min_count": 3,
                    },
                }
            ],
        }
    )


def test_hourly_counts_travel_from_the_node_to_the_server_and_nothing_else(
    plant: Plant, tmp_path: Path
) -> None:
    config = _config(tmp_path / "node")
    enroll(plant.url, plant.token("node-walk", cameras=("cam-walk",)), tmp_path / "identity")
    counter = PpeCounter(
        config.node,
        config.ppe_cameras[0],
        finder=DetectorFinder(PersonDetector()),
        classifier=PpeClassifier.load(),
    )
    scenes = walkway_scenes(6, seed=31, people=(2, 3))
    outbox = Outbox(tmp_path / "outbox.db")
    for i, scene in enumerate(scenes):  # 06:00-06:50: one hour of frames
        for message in counter.observe(scene.image, HOUR + dt.timedelta(minutes=10 * i)):
            outbox.put(message)
    first_hour_seen = counter.skipped.counted
    for message in counter.observe(scenes[0].image, HOUR + dt.timedelta(hours=1)):  # 07:00 closes 06:00
        outbox.put(message)
    for message in counter.close():  # the camera is retired: 07:00 goes out too
        outbox.put(message)
    sent = outbox.pending(1000)
    assert [i.kind for i in sent] == ["ppe", "ppe"]
    send_outbox(outbox, identity_dir=tmp_path / "identity", server_url=plant.url, node_id="node-walk")
    outbox.close()

    with plant.session() as session:
        rows = {r.hour_start: r for r in session.scalars(select(PpeCountRow))}
        assert session.scalars(select(StageResultRow)).all() == []
        assert session.scalars(select(InspectionEventRow)).all() == []
        report = ppe_report(session, site_id="plant-a", lines=None, since=HOUR, min_count=5)
    assert set(rows) == {HOUR, HOUR + dt.timedelta(hours=1)}
    six, seven = rows[HOUR], rows[HOUR + dt.timedelta(hours=1)]
    assert (six.camera_id, six.zone, six.sampled_frames, six.min_count) == ("cam-walk", "aisle", 6, 5)
    assert first_hour_seen >= 10 and six.people_seen == first_hour_seen  # 2-3 people x 6 frames, most found
    assert all(v is None or v == 0 or v >= 5 for v in six.lacking.values())  # the server's minimum, again
    # One frame at 07:00: 2-3 sightings, below both minimums: nothing but "suppressed" arrives.
    assert seven.people_seen is None and set(seven.lacking.values()) == {None}
    assert [(h.hour_start, h.people_seen) for h in report.hours] == [
        (HOUR + dt.timedelta(hours=1), None),
        (HOUR, first_hour_seen),
    ]
