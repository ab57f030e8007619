"""Store PPE counts from ingest and read them per zone and hour, suppressing small counts again.

Both ends suppress, so a node with a lower minimum (or a bug) cannot put a small count in
front of a reader: :func:`ppe_rows` applies the server's ``ppe_min_count`` (or the node's,
whichever is larger) before the row is stored, and :func:`ppe_report` adds up the rows of
one zone and hour (a node restart splits an hour) and suppresses the sums once more.
An hour with any suppressed part shows its people as suppressed: a sum that leaves part of
the hour out would look complete while it is not.

Keyword-only functions taking a session; no commits here.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lineguard.contracts.ppe import PpeCounts, suppress
from lineguard.server.ppe.models import PpeCountRow
from lineguard.server.ppe.schemas import PpeHourView, PpeReport

__all__ = ["NOTE", "ppe_report", "ppe_row"]

NOTE = (
    "people_seen counts sightings in sampled frames, not distinct people (nobody is tracked); read "
    "the share lacking an item, not the totals. The classifier was trained and measured on generated "
    "people only: its real-world accuracy is not measured (docs/inspection.md)."
)


def ppe_row(counts: PpeCounts, _sealed: object, now: datetime, *, min_count: int) -> dict[str, Any]:
    """The stored row of one message, every count suppressed with the larger of both minimums."""
    k = max(min_count, counts.min_count)
    seen = suppress(counts.people_seen, k)
    return {
        "counts_id": counts.counts_id,
        "idempotency_key": counts.idempotency_key,
        "node_id": counts.node_id,
        "site_id": counts.site_id,
        "line_id": counts.line_id,
        "station_id": counts.station_id,
        "camera_id": counts.camera_id,
        "zone": counts.zone,
        "hour_start": counts.hour_start,
        "received_at": now,
        "sampled_frames": counts.sampled_frames,
        "min_count": k,
        "people_seen": seen,
        "lacking": {i.item: None if seen is None else suppress(i.lacking, k) for i in counts.items},
        "classifier": counts.classifier,
    }


def _sum(values: Sequence[int | None]) -> int | None:
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def ppe_report(
    session: Session, *, site_id: str, lines: Collection[str] | None, since: datetime, min_count: int
) -> PpeReport:
    """Hourly counts per (line, station, camera, zone) since ``since``, newest first."""
    query = select(PpeCountRow).where(PpeCountRow.site_id == site_id, PpeCountRow.hour_start >= since)
    if lines is not None:
        query = query.where(PpeCountRow.line_id.in_(sorted(lines)))
    groups: dict[tuple[str, str, str, str, datetime], list[PpeCountRow]] = {}
    for row in session.scalars(query):
        groups.setdefault((row.line_id, row.station_id, row.camera_id, row.zone, row.hour_start), []).append(
            row
        )
    hours = []
    for (line, station, camera, zone, hour), rows in groups.items():
        k = max([min_count, *(r.min_count for r in rows)])
        seen = suppress(_sum([r.people_seen for r in rows]), k)
        items = sorted({item for r in rows for item in r.lacking})
        lacking = {
            item: None if seen is None else suppress(_sum([r.lacking.get(item) for r in rows]), k)
            for item in items
        }
        hours.append(
            PpeHourView(
                line_id=line,
                station_id=station,
                camera_id=camera,
                zone=zone,
                hour_start=hour,
                sampled_frames=sum(r.sampled_frames for r in rows),
                people_seen=seen,
                lacking=lacking,
                suppressed=seen is None,
            )
        )
    hours.sort(key=lambda h: (h.hour_start, h.line_id, h.station_id, h.camera_id, h.zone), reverse=True)
    return PpeReport(min_count=min_count, since=since, hours=hours, note=NOTE)
