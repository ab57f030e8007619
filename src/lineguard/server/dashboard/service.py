"""Record lookups for the dashboard's detail page: keyword-only functions taking a session.

The caller (a route) has already checked the permission; it re-checks the record's line
against the caller's scope with ``Access.check_line`` before answering. Sealed fields
(part ids) are opened with the server's sealer, exactly as ingest sealed them. A lookup
by id is one indexed query (``inspection_events.event_id`` and ``alerts.alert_id`` are
indexed, ingest_0003), whoever minted the id.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lineguard.contracts.errors import NotFoundError
from lineguard.server.context import Sealer
from lineguard.server.dashboard.schemas import RecordView
from lineguard.server.ingest import AlertRow, InspectionEventRow
from lineguard.server.query import alert_view

__all__ = [
    "alert_view",
    "find_alert",
    "find_record",
    "find_record_or_none",
    "open_part_id",
    "record_view",
]


def find_record_or_none(session: Session, *, site_id: str, event_id: str) -> InspectionEventRow | None:
    e = InspectionEventRow
    return session.scalars(select(e).where(e.event_id == event_id, e.site_id == site_id).limit(1)).first()


def find_record(session: Session, *, site_id: str, event_id: str) -> InspectionEventRow:
    row = find_record_or_none(session, site_id=site_id, event_id=event_id)
    if row is None:
        msg = f"no inspection record {event_id[:128]!r} on this site"
        raise NotFoundError(msg)
    return row


def find_alert(session: Session, *, site_id: str, alert_id: str) -> AlertRow:
    a = AlertRow
    row = session.scalars(select(a).where(a.alert_id == alert_id, a.site_id == site_id).limit(1)).first()
    if row is None:
        msg = f"no alert {alert_id[:128]!r} on this site"
        raise NotFoundError(msg)
    return row


def open_part_id(
    sealer: Sealer, sealed: bytes | None, *, node_id: str, key: str | None, category: str
) -> str | None:
    """A part id as ingest sealed it for the record ``<node>:<idempotency key>`` of ``category``."""
    if sealed is None or key is None:
        return None
    opened = sealer.open(sealed, object_id=f"{node_id}:{key}", category=category)
    return opened.decode("utf-8", errors="replace")


def record_view(row: InspectionEventRow, *, sealer: Sealer) -> RecordView:
    part_id = open_part_id(
        sealer, row.part_id_sealed, node_id=row.node_id, key=row.idempotency_key, category="inspection_events"
    )
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
