"""The indexes of ``inspection_events`` and ``part_verdicts`` are the ones their reads use
(``ingest_0010``).

Every ingested event (part) is written into each index of its table, so an index nothing
reads is paid on every event for nothing. ``ingest_0010`` drops ``(verdict, captured_at)``
and ``(verdict, first_seen_at)``: up and down on both engines (on every monthly partition
of PostgreSQL). Then the reads of the two tables the server sends — a record by id, the
part it was a frame of and that part's frames, alerts joined to their event, the MQTT
publisher's catch-up, every retention pass — are captured as they are sent and each must
search an index (SQLite's plan after ``ANALYZE``), never scan the table, so dropping an
index a read needs fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, event, insert, text

from lineguard.config.server import RetentionConfig
from lineguard.server.dashboard.parts import part_of_record
from lineguard.server.dashboard.queue import AlertFilter, alert_page
from lineguard.server.dashboard.service import find_record
from lineguard.server.ingest.models import AlertRow, InspectionEventRow, PartVerdictRow
from lineguard.server.protection import NoEncryption
from lineguard.server.query import recent_alerts
from lineguard.server.retention.service import run_sweep
from lineguard.server.storage import alembic_config, create_engine_for, session_factory, upgrade_to_head
from tests.unit.server.retention.conftest import alert_row, event_row

NAMES = ("ix_inspection_events_verdict_captured_at", "ix_part_verdicts_verdict_first_seen_at")
BEFORE = "nodes_0002"


def _where_the_indexes_are(conn: Connection) -> set[str]:
    """The tables holding either index: ``inspection_events`` (the parent on PostgreSQL)
    and ``part_verdicts`` and, on PostgreSQL, each partition holding its piece."""
    return {table for name in NAMES for table in _where(conn, name)}


def _where(conn: Connection, name: str) -> set[str]:
    if conn.dialect.name == "sqlite":
        found = conn.execute(
            text("SELECT tbl_name FROM sqlite_master WHERE type = 'index' AND name = :n"), {"n": name}
        ).scalars()
        return {str(t) for t in found}
    found = conn.execute(
        text(
            "SELECT t.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
            " JOIN pg_class t ON t.oid = x.indrelid"
            " WHERE i.relname = :n OR x.indexrelid IN"
            " (SELECT inhrelid FROM pg_inherits WHERE inhparent = to_regclass(:n))"
        ),
        {"n": name},
    ).scalars()
    return {str(t) for t in found}


def test_the_migration_drops_and_restores_the_verdict_indexes_on_both_engines(empty_db_url: str) -> None:
    engine = create_engine_for(empty_db_url)
    try:
        config = alembic_config(engine)
        command.upgrade(config, BEFORE)
        with engine.connect() as conn:
            before = _where_the_indexes_are(conn)
        assert {"inspection_events", "part_verdicts"} <= before
        if engine.dialect.name == "postgresql":
            assert len(before) > 2, before  # the parent's index and a piece on each partition
        command.upgrade(config, "ingest_0010")
        with engine.connect() as conn:
            assert _where_the_indexes_are(conn) == set()
        command.downgrade(config, BEFORE)
        with engine.connect() as conn:
            assert _where_the_indexes_are(conn) == before
        upgrade_to_head(engine)
        with engine.connect() as conn:
            assert _where_the_indexes_are(conn) == set()
    finally:
        engine.dispose()


NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
EVENTS = 4_000


@pytest.fixture
def filled(tmp_path: Path) -> Iterator[Engine]:
    """SQLite at head with ``EVENTS`` events of three lines and four cameras over 400 days
    (so retention has work), one alert per 100 events, one part verdict per two events
    (one of node-1, the rest node-2's), after ``ANALYZE``."""
    engine = create_engine_for(f"sqlite:///{tmp_path / 'plans.db'}")
    upgrade_to_head(engine)
    step = timedelta(days=400) / EVENTS
    rows: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    for g in range(EVENTS):
        at = NOW - timedelta(days=400) + g * step
        row = event_row(f"k{g}", at, verdict="fail" if g % 20 == 0 else "pass", evidence_ref=f"evd_{g}")
        rows.append(row | {"line_id": f"line-{g % 3}", "camera_id": f"cam-{g % 4}", "frame_id": g})
        if g % 100 == 0:
            alerts.append(alert_row(f"a{g}", at) | {"event_id": f"evt_k{g}"})
    part = {
        "part_verdict_id": "pv_1",
        "idempotency_key": "p1",
        "node_id": "node-1",
        "site_id": "plant-a",
        "line_id": "line-0",
        "station_id": "st-1",
        "camera_id": "cam-0",
        "part_id_sealed": None,
        "id_source": "tracker",
        "first_frame_id": EVENTS - 12,
        "last_frame_id": EVENTS - 1,
        "first_seen_at": rows[-12]["captured_at"],
        "last_seen_at": rows[-1]["captured_at"],
        "received_at": NOW,
        "frames": 3,
        "frames_fused": 3,
        "frames_expected": None,
        "views_short": False,
        "model_id": "m",
        "model_version": 1,
        "model_sha256": "0" * 64,
        "verdict": "pass",
        "anomaly_score": 0.1,
        "threshold": 0.5,
        "regions": [],
        "decisive_event_id": rows[-4]["event_id"],
        "evidence_ref": None,
        "closed_by": "frames",
        "anomalies": [],
        "stages": [],
    }
    # Another node's parts over the same days, so the planner sees a table worth searching.
    others = [
        part
        | {
            "part_verdict_id": f"pv_o{g}",
            "idempotency_key": f"o{g}",
            "node_id": "node-2",
            "first_seen_at": rows[g]["captured_at"],
            "last_seen_at": rows[g]["captured_at"],
            "decisive_event_id": f"evt_other_{g}",
        }
        for g in range(0, EVENTS, 2)
    ]
    with engine.begin() as conn:
        conn.execute(insert(InspectionEventRow), rows)
        conn.execute(insert(AlertRow), alerts)
        conn.execute(insert(PartVerdictRow), [part, *others])
        conn.execute(text("ANALYZE"))
    yield engine
    engine.dispose()


def _plans_of_reads(engine: Engine, run: Any) -> dict[str, str]:
    """Each SELECT ``run`` sends that reads ``inspection_events`` or ``part_verdicts`` →
    SQLite's plan of it."""
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        # Reads only: retention's DELETE/UPDATE name their rows by primary key, which SQLite
        # may plan as a scan with the id list as a lookup when the list is long.
        read = statement.lstrip().upper().startswith("SELECT")
        if read and ("inspection_events" in statement or "part_verdicts" in statement):
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    plans = {}
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        for statement, parameters in sent:
            rows = raw.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
            plans[statement] = " | ".join(str(r[-1]) for r in rows)
    return plans


def test_every_read_of_events_and_parts_searches_an_index(filled: Engine) -> None:
    sessions = session_factory(filled)
    sealer = NoEncryption()

    def reads() -> None:
        with sessions() as session:
            record = find_record(session, site_id="plant-a", event_id=f"evt_k{EVENTS - 4}")
            part = part_of_record(session, record=record, sealer=sealer)
            assert part is not None
            assert len(part.frames) == 3  # cam-0's frames of line-0 in the part's range
            assert recent_alerts(
                session, site_id="plant-a", lines=None, sealer=sealer, model_id="m", model_version=1
            )
            page = alert_page(session, site_id="plant-a", lines=None, sealer=sealer, where=AlertFilter())
            assert page.items
            last = session.scalar(text("SELECT max(row_id) FROM inspection_events"))
            session.execute(
                text("SELECT row_id FROM inspection_events WHERE row_id > :x ORDER BY row_id LIMIT 500"),
                {"x": int(last or 0) - 100},
            )  # the MQTT publisher's catch-up (integrations.mqtt.publisher)
        policy = RetentionConfig(inspection_events_days=30, evidence_refs_days=10)
        result = run_sweep(sessions, policy, now=NOW)
        assert result.deleted["inspection_events"] > 0

    plans = _plans_of_reads(filled, reads)
    # record, its part, the part's frames, two alert reads, publisher, retention of both tables
    assert len(plans) >= 8, plans
    assert any("FROM part_verdicts" in sql for sql in plans), plans
    scans = {
        sql: plan for sql, plan in plans.items() if re.search(r"SCAN (inspection_events|part_verdicts)", plan)
    }
    assert scans == {}, scans
    # The indexes these reads stand on (kept); (line, time) and the partial index of a line's
    # failures serve the drill-downs bench_partitions.py measures, not a read sent here.
    used = {name for plan in plans.values() for name in re.findall(r"USING (?:COVERING )?INDEX (\w+)", plan)}
    assert {
        "ix_inspection_events_event_id",
        "ix_inspection_events_camera_id_captured_at",
        "ix_inspection_events_captured_at",
        "ix_part_verdicts_part_verdict_id",
        "ix_part_verdicts_decisive_event_id",
        "ix_part_verdicts_first_seen_at",
    } <= used, used
