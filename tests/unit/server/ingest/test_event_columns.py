"""Inspection-event rows built column by column (``rows.event_columns``, stored with
``insert_columns``) are the rows each event's own fields give, and they are stored as
such on SQLite and PostgreSQL.

The expected row is written here the plain way, one event at a time through the models'
public attributes, so the column-wise build (fields read from ``__dict__`` by
``itemgetter``, transposed by ``zip``, verdicts by a lookup, one shared empty regions
list) is checked against an independent definition, not against itself."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from lineguard.contracts.events import IngestBatch, InspectionEvent
from lineguard.server.ingest import service as ingest
from lineguard.server.ingest.models import InspectionEventRow
from lineguard.server.ingest.rows import event_columns
from lineguard.server.nodes.models import Node
from lineguard.server.nodes.service import NodeIdentity
from lineguard.server.protection import NoEncryption
from lineguard.server.storage import insert_columns, session_factory, upgrade_to_head
from tests.unit.server.conftest import AuditTrail
from tests.unit.server.ingest import factory
from tests.unit.server.ingest.strategies import event_bodies

T0 = datetime(2026, 3, 2, 6, 59, 58, 500_000, tzinfo=UTC)
NOW = datetime(2026, 3, 2, 7, 5, tzinfo=UTC)
NODE = NodeIdentity("node-1", "plant-a", "line-1", frozenset({"cam-1", "cam-2"}), "s1")
OTHER_MODEL = {"model_id": "mdl_other", "version": 11, "sha256": "cd" * 32}


def _expected_row(e: InspectionEvent, part: bytes | None, now: datetime) -> dict[str, Any]:
    """One event's ``inspection_events`` row, field by field."""
    return {
        "event_id": e.event_id,
        "idempotency_key": e.idempotency_key,
        "node_id": e.node_id,
        "site_id": e.site_id,
        "line_id": e.line_id,
        "station_id": e.station_id,
        "camera_id": e.camera_id,
        "part_id_sealed": part,
        "frame_id": e.frame_id,
        "captured_at": e.captured_at,
        "received_at": now,
        "model_id": e.model.model_id,
        "model_version": e.model.version,
        "model_sha256": e.model.sha256,
        "verdict": e.verdict.value,
        "anomaly_score": e.anomaly_score,
        "threshold": e.threshold,
        "regions": [r.model_dump(mode="json") for r in e.regions],
        "evidence_ref": e.evidence_ref,
        "latency_ms": e.latency_ms,
    }


def _rows(columns: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def _events(bodies: list[dict[str, Any]]) -> list[InspectionEvent]:
    return list(IngestBatch.model_validate(factory.batch("node-1", bodies, parts=[])).events)


@settings(max_examples=60, deadline=None)
@given(event_bodies())
def test_columns_are_the_rows_of_each_events_own_fields(bodies: list[dict[str, Any]]) -> None:
    events = _events(bodies)
    parts = [None if i % 3 else f"sealed-{i}".encode() for i in range(len(events))]
    columns = event_columns(events, parts, NOW)
    assert _rows(columns) == [_expected_row(e, p, NOW) for e, p in zip(events, parts, strict=True)]
    # The column names are the table's, every one that ingest writes.
    assert set(columns) <= set(InspectionEventRow.__table__.c.keys())


def test_no_events_give_no_columns() -> None:
    assert event_columns([], [], NOW) == {}


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    upgrade_to_head(engine)
    with session_factory(engine)() as s:
        s.add(Node(node_id="node-1", site_id="plant-a", line_id="line-1", camera_ids=["cam-1", "cam-2"]))
        s.commit()
        yield s


def test_ingest_stores_each_event_as_its_fields_give_it(session: Session) -> None:
    """Through ``ingest_batch``: verdicts, regions, evidence, times over two hours, two
    models, values every row shares and values that differ (as a line sends them)."""
    second, hour = timedelta(seconds=1.5), timedelta(hours=1)
    bodies = [
        factory.event("node-1", key="idk-0", at=T0),
        factory.event(
            "node-1",
            key="idk-1",
            at=T0 + second,
            camera_id="cam-2",
            verdict="fail",
            defects=("dent", "scratch"),
        ),
        factory.event("node-1", key="idk-2", at=T0 + second, verdict="uncertain", model=OTHER_MODEL),
        factory.event("node-1", key="idk-3", at=T0 + hour, camera_id="cam-2"),
        factory.event(
            "node-1", key="idk-4", at=T0 - second, verdict="fail", defects=("crack",), model=OTHER_MODEL
        ),
    ]
    bodies[1]["evidence_ref"] = bodies[2]["evidence_ref"] = "evd_0001"
    events = _events(bodies)
    batch = IngestBatch(node_id="node-1", sent_at=NOW, events=events)
    receipt = ingest.ingest_batch(
        session, node=NODE, batch=batch, sealer=NoEncryption(), audit=AuditTrail(), now=NOW
    )
    assert receipt.stored == len(events)
    stored = {r.idempotency_key: r for r in session.scalars(select(InspectionEventRow))}
    for e in events:
        row = stored[e.idempotency_key]
        assert {name: getattr(row, name) for name in _expected_row(e, None, NOW)} == _expected_row(
            e, None, NOW
        )


def test_columns_of_unequal_lengths_are_refused_and_nothing_is_stored(session: Session) -> None:
    events = _events(
        [factory.event("node-1", key="idk-0"), factory.event("node-1", key="idk-1", verdict="fail")]
    )
    columns = event_columns(events, [None, None], NOW)
    columns["frame_id"] = [7]  # one value for two rows
    table = InspectionEventRow.__table__
    with pytest.raises(ValueError, match=r"one value per row in every column; got lengths .*'frame_id': 1"):
        insert_columns(session, table, columns)  # type: ignore[arg-type]
    session.rollback()
    assert session.scalars(select(InspectionEventRow)).all() == []
