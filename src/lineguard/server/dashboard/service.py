"""Record lookups for the dashboard's detail page: keyword-only functions taking a session.

The caller (a route) has already checked the permission; it re-checks the record's line
against the caller's scope with ``Access.check_line`` before answering. Sealed fields
(part ids) are opened with the server's sealer, exactly as ingest sealed them.

The tables have no index on ``event_id`` or ``alert_id``, only on time. Ids minted by
LineGuard are ``<prefix>_<UUIDv7>``, and the edge mints them when it decides, so the id
carries the moment of capture (or of raising the alert) to the millisecond: a lookup first
searches a window around it through the time index, and only an id from elsewhere (or a
record outside the window) costs a scan of the table.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from lineguard.contracts.errors import NotFoundError
from lineguard.server.context import Sealer
from lineguard.server.dashboard.schemas import RecordView
from lineguard.server.ingest.models import AlertRow, InspectionEventRow
from lineguard.server.query.service import alert_view

__all__ = ["alert_view", "find_alert", "find_record", "find_record_or_none", "minted_at", "record_view"]

#: How far a record's time may lie from the moment its id was minted.
ID_TIME_WINDOW = timedelta(days=1)


def minted_at(opaque_id: str) -> datetime | None:
    """When a LineGuard id (``evt_<UUIDv7 hex>``) was minted; None for any other id."""
    _, sep, hex_part = opaque_id.rpartition("_")
    if not sep or len(hex_part) != 32:
        return None
    try:
        value = uuid.UUID(hex=hex_part)
    except ValueError:
        return None
    if value.version != 7:
        return None
    return datetime.fromtimestamp((value.int >> 80) / 1000, UTC)


def _near(opaque_id: str, column: InstrumentedAttribute[datetime]) -> list[ColumnElement[bool]]:
    moment = minted_at(opaque_id)
    if moment is None:
        return []
    return [column >= moment - ID_TIME_WINDOW, column <= moment + ID_TIME_WINDOW]


def find_record_or_none(session: Session, *, site_id: str, event_id: str) -> InspectionEventRow | None:
    e = InspectionEventRow
    stmt = select(e).where(e.site_id == site_id, e.event_id == event_id).limit(1)
    window = _near(event_id, e.captured_at)
    if window and (row := session.scalars(stmt.where(*window)).first()) is not None:
        return row
    return session.scalars(stmt).first()


def find_record(session: Session, *, site_id: str, event_id: str) -> InspectionEventRow:
    row = find_record_or_none(session, site_id=site_id, event_id=event_id)
    if row is None:
        msg = f"no inspection record {event_id[:128]!r} on this site"
        raise NotFoundError(msg)
    return row


def find_alert(session: Session, *, site_id: str, alert_id: str) -> AlertRow:
    a = AlertRow
    stmt = select(a).where(a.site_id == site_id, a.alert_id == alert_id).limit(1)
    window = _near(alert_id, a.raised_at)
    row = session.scalars(stmt.where(*window)).first() if window else None
    if row is None:
        row = session.scalars(stmt).first()
    if row is None:
        msg = f"no alert {alert_id[:128]!r} on this site"
        raise NotFoundError(msg)
    return row


def record_view(row: InspectionEventRow, *, sealer: Sealer) -> RecordView:
    part_id = None
    if row.part_id_sealed is not None:
        part_id = sealer.open(
            row.part_id_sealed,
            object_id=f"{row.node_id}:{row.idempotency_key}",
            category="inspection_events",
        ).decode("utf-8", errors="replace")
    return RecordView(
        event_id=row.event_id,
        node_id=row.node_id,
        line_id=row.line_id,
        station_id=row.station_id,
        camera_id=row.camera_id,
        part_id=part_id,
        frame_id=row.frame_id,
        captured_at=row.captured_at,
        received_at=row.received_at,
        model_id=row.model_id,
        model_version=row.model_version,
        model_sha256=row.model_sha256,
        verdict=row.verdict,
        anomaly_score=row.anomaly_score,
        threshold=row.threshold,
        regions=list(row.regions or []),
        latency_ms=row.latency_ms,
        has_evidence=row.evidence_ref is not None,
    )
