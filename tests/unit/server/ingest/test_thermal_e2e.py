"""Thermal monitoring end to end: a motor overheating in generated radiometric frames → the
node's monitor and reporter → its outbox → its sender over HTTPS + mTLS → the server (SQLite
and PostgreSQL), where the trend's crossing is a maintenance recommendation under review."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from lineguard.config.edge import NodeConfig
from lineguard.config.thermal import ThermalStageConfig
from lineguard.contracts.errors import InputError, NotFoundError
from lineguard.edge.identity import enroll
from lineguard.edge.outbox import Outbox
from lineguard.edge.thermal import ThermalMonitor, ThermalReporter
from lineguard.edge.thermal.synthetic import SCENE_ROIS, Fault, ThermalScene
from lineguard.server.ingest.models import StageResultRow
from lineguard.server.review import THERMAL_MAINTENANCE, Decision, decide, get_item
from tests.support.label_node import send_outbox
from tests.unit.server.conftest import Plant

pytestmark = pytest.mark.slow

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
PERIOD = dt.timedelta(minutes=5)
WATCH = T0 + dt.timedelta(days=4)


def _observe_overheating(outbox: Outbox, data_dir: Path) -> int:
    """Four normal days learned, then 18 h with the motor heating 1 °C/h from 06:00; returns results put."""
    config = ThermalStageConfig(name="motor-view", rois=SCENE_ROIS)
    node = NodeConfig(node_id="node-th", site_id="plant-a", line_id="line-1", data_dir=data_dir)
    scene = ThermalScene(seed=3, faults=(Fault("overheat", WATCH + dt.timedelta(hours=6), rate_c_per_h=1.0),))
    monitor = ThermalMonitor(config)
    monitor.learn(scene.frames(T0, WATCH, PERIOD))
    reporter = ThermalReporter(node, config, camera_id="cam-th", station_id="st-motor")
    put = 0
    for frame_id, frame in enumerate(scene.frames(WATCH, WATCH + dt.timedelta(hours=18), PERIOD)):
        for result in reporter.results(monitor.observe(frame), frame_id):
            outbox.put(result)
            put += 1
    return put


def test_an_overheating_motor_becomes_a_maintenance_recommendation_on_the_server(
    plant: Plant, tmp_path: Path
) -> None:
    enroll(plant.url, plant.token("node-th", cameras=("cam-th",)), tmp_path / "identity")
    outbox = Outbox(tmp_path / "outbox.db")
    put = _observe_overheating(outbox, tmp_path / "node")
    assert put >= 2  # at least the motor's alarm and its recommendation
    send_outbox(outbox, identity_dir=tmp_path / "identity", server_url=plant.url, node_id="node-th")
    outbox.close()

    with plant.session() as session:
        rows = session.scalars(select(StageResultRow).order_by(StageResultRow.captured_at)).all()
        assert len(rows) == put
        assert {(r.kind, r.part_verdict_id, r.camera_id) for r in rows} == {("thermal", None, "cam-th")}
        (rec,) = [r for r in rows if r.reasons[0]["code"] == "maintenance_recommended"]
        assert rec.verdict == "uncertain" and rec.reasons[0]["subject"] == "motor"
        trend = next(m for m in rec.measurements if m["characteristic"] == "motor.trend")
        assert trend["unit"] == "degC" and trend["value"] >= trend["upper_limit"] == 4.0
        assert any(r.reasons[0]["code"] in {"hot_spot", "delta_t"} and r.verdict == "fail" for r in rows)

        item = get_item(session, kind=THERMAL_MAINTENANCE, subject_id=rec.result_id)
        assert item.state == "new" and item.line_id == "line-1"
        assert item.ai_proposal["asset"] == "motor" and item.ai_proposal["trend_c"] == trend["value"]
        assert item.ai_proposal["slope_c_per_h"] > 0
        # Alarms are stage results, not maintenance proposals: only the trend's crossing is.
        for other in rows:
            if other.result_id != rec.result_id:
                with pytest.raises(NotFoundError):
                    get_item(session, kind=THERMAL_MAINTENANCE, subject_id=other.result_id)

        edit = {
            "kind": THERMAL_MAINTENANCE,
            "decision": Decision.EDIT,
            "actor": "user:tess.tech",
            "audit": plant.audit,
            "now": dt.datetime.now(dt.UTC),
        }
        with pytest.raises(InputError, match="trend_c"):  # the node's numbers are not editable
            decide(
                session, item=item, version=item.version, reason="lower it", changes={"trend_c": 1.0}, **edit
            )
        session.rollback()
        item = get_item(session, kind=THERMAL_MAINTENANCE, subject_id=rec.result_id)
        done = decide(
            session,
            item=item,
            version=item.version,
            reason="bearing noise too",
            changes={"priority": "high"},
            **edit,
        )
        assert done.state == "resolved" and done.human_outcome["priority"] == "high"
        assert done.ai_proposal["priority"] == "medium"  # the proposal stays as made
