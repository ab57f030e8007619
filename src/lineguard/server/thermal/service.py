"""Read thermal results from ``stage_results`` (kind ``thermal``): assets, one asset's series, alarms.

Keyword-only functions taking a session; reads only. A reading result is ``pass`` with no
reason; anything else is an alarm or a maintenance recommendation, its one reason naming
the asset (``subject``). Series are thinned to at most ``max_points`` by keeping, of each
run of consecutive readings, the hottest: a peak is never smoothed away.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from lineguard.contracts.stages import MAINTENANCE_RECOMMENDED, StageKind
from lineguard.server.ingest import StageResultRow
from lineguard.server.thermal.readings import AssetReading, readings_of
from lineguard.server.thermal.schemas import (
    ThermalAlarmView,
    ThermalAssetView,
    ThermalPoint,
    ThermalSeriesView,
)

__all__ = ["MAX_ROWS_SCANNED", "asset_series", "asset_summaries", "recent_alarms"]

#: Rows read per call (newest first): a month of 5-minute readings of one camera is 8,640.
MAX_ROWS_SCANNED = 50_000

Camera = tuple[str, str, str, str]  # line, station, camera, stage


def _where(*, site_id: str, lines: frozenset[str] | None, start: datetime, end: datetime) -> list[Any]:
    return StageResultRow.of_kind_in_window(
        StageKind.THERMAL.value, site_id=site_id, lines=lines, start=start, end=end
    )


def _alarm(row: StageResultRow) -> ThermalAlarmView:
    reason = row.reasons[0] if row.reasons else {"code": row.verdict, "subject": "camera", "message": ""}
    measured = next(iter(row.measurements), {})
    return ThermalAlarmView(
        result_id=row.result_id,
        line_id=row.line_id,
        station_id=row.station_id,
        camera_id=row.camera_id,
        at=row.captured_at,
        kind=str(reason.get("code", "")),
        asset=str(reason.get("subject", "")),
        value=measured.get("value"),
        limit=measured.get("upper_limit"),
        message=str(reason.get("message", "")),
    )


def asset_summaries(
    session: Session, *, site_id: str, lines: frozenset[str] | None, start: datetime, end: datetime
) -> list[ThermalAssetView]:
    """Every asset watched on the caller's lines: its latest reading and its alarms in ``[start, end)``."""
    s = StageResultRow
    where = _where(site_id=site_id, lines=lines, start=start, end=end)
    key = (s.line_id, s.station_id, s.camera_id, s.stage)
    newest = (
        select(*key, func.max(s.captured_at).label("at"))
        .where(*where, s.verdict == "pass")
        .group_by(*key)
        .subquery()
    )
    on_newest = and_(
        s.line_id == newest.c.line_id,
        s.station_id == newest.c.station_id,
        s.camera_id == newest.c.camera_id,
        s.stage == newest.c.stage,
        s.captured_at == newest.c.at,
    )
    latest: dict[tuple[Camera, str], tuple[datetime, AssetReading]] = {}
    for row in session.scalars(select(s).join(newest, on_newest).where(*where, s.verdict == "pass")):
        camera = (row.line_id, row.station_id, row.camera_id, row.stage)
        for asset, found in readings_of(row.measurements).items():
            latest[(camera, asset)] = (row.captured_at, found)
    alarms: dict[tuple[Camera, str], list[ThermalAlarmView]] = defaultdict(list)
    flagged = (
        select(s).where(*where, s.verdict != "pass").order_by(s.captured_at.desc()).limit(MAX_ROWS_SCANNED)
    )
    for row in session.scalars(flagged):
        alarm = _alarm(row)
        alarms[((row.line_id, row.station_id, row.camera_id, row.stage), alarm.asset)].append(alarm)
    out = []
    for camera, asset in sorted(set(latest) | set(alarms)):
        read_at: datetime | None = None
        reading: AssetReading | None = None
        if (camera, asset) in latest:
            read_at, reading = latest[(camera, asset)]
        raised = alarms.get((camera, asset), [])
        proper = [a for a in raised if a.kind != MAINTENANCE_RECOMMENDED]
        out.append(
            ThermalAssetView(
                line_id=camera[0],
                station_id=camera[1],
                camera_id=camera[2],
                stage=camera[3],
                asset=asset,
                read_at=read_at,
                max_c=None if reading is None else reading.max_c,
                band_low_c=None if reading is None else reading.band_low_c,
                band_centre_c=None if reading is None else reading.band_centre_c,
                band_high_c=None if reading is None else reading.band_high_c,
                in_band=None if reading is None else reading.in_band,
                trend_c=None if reading is None else reading.trend_c,
                trend_limit_c=None if reading is None else reading.trend_limit_c,
                alarms=len(proper),
                last_alarm_at=proper[0].at if proper else None,
                last_alarm_kind=proper[0].kind if proper else None,
                recommendations=len(raised) - len(proper),
            )
        )
    return out


def _thin(points: list[ThermalPoint], max_points: int) -> list[ThermalPoint]:
    """At most ``max_points``: of each run of consecutive points, the hottest."""
    if len(points) <= max_points:
        return points
    size = -(-len(points) // max_points)  # ceiling division
    return [max(points[i : i + size], key=lambda p: p.max_c) for i in range(0, len(points), size)]


def asset_series(
    session: Session,
    *,
    site_id: str,
    lines: frozenset[str] | None,
    line_id: str,
    camera_id: str,
    asset: str,
    start: datetime,
    end: datetime,
    max_points: int = 720,
) -> ThermalSeriesView | None:
    """One asset's readings and alarms in ``[start, end)``; ``None`` when it has neither."""
    s = StageResultRow
    where = [
        *_where(site_id=site_id, lines=lines, start=start, end=end),
        s.line_id == line_id,
        s.camera_id == camera_id,
    ]
    rows = session.execute(
        select(s.captured_at, s.measurements)
        .where(*where, s.verdict == "pass")
        .order_by(s.captured_at.desc())
        .limit(MAX_ROWS_SCANNED)
    ).all()
    points, limit = [], None
    for at, measurements in reversed(rows):
        reading = readings_of(measurements).get(asset)
        if reading is None:
            continue
        limit = reading.trend_limit_c if reading.trend_limit_c is not None else limit
        points.append(
            ThermalPoint(
                at=at,
                max_c=reading.max_c,
                band_low_c=reading.band_low_c,
                band_high_c=reading.band_high_c,
                trend_c=reading.trend_c,
            )
        )
    flagged = session.scalars(
        select(s).where(*where, s.verdict != "pass").order_by(s.captured_at.desc()).limit(200)
    )
    alarms = [a for a in map(_alarm, flagged) if a.asset in {asset, "camera"}]
    if not points and not alarms:
        return None
    return ThermalSeriesView(
        line_id=line_id,
        camera_id=camera_id,
        asset=asset,
        readings=len(points),
        trend_limit_c=limit,
        points=_thin(points, max_points),
        alarms=alarms,
    )


def recent_alarms(
    session: Session,
    *,
    site_id: str,
    lines: frozenset[str] | None,
    start: datetime,
    end: datetime,
    line_id: str | None = None,
    camera_id: str | None = None,
    limit: int = 100,
) -> list[ThermalAlarmView]:
    """Alarms and maintenance recommendations in ``[start, end)``, newest first."""
    s = StageResultRow
    where = [*_where(site_id=site_id, lines=lines, start=start, end=end), s.verdict != "pass"]
    if line_id is not None:
        where.append(s.line_id == line_id)
    if camera_id is not None:
        where.append(s.camera_id == camera_id)
    rows = session.scalars(
        select(s).where(*where).order_by(s.captured_at.desc(), s.row_id.desc()).limit(limit)
    )
    return [_alarm(row) for row in rows]
