"""Thermal routes (thin): the watched assets, one asset's series, and the alarms of a window.

``start``/``end`` are UTC (a time without an offset is read as UTC); the window defaults
to the last 24 hours and may span at most :data:`MAX_WINDOW`. Reading equipment
temperatures is maintenance data (``maintenance_data.read``: technicians, supervisors),
like the ``thermal_maintenance`` review items; every route is scoped to the caller's
lines and audits the read.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from lineguard.contracts.errors import NotFoundError
from lineguard.server.auth import Access, Action, require
from lineguard.server.context import get_session
from lineguard.server.thermal import service
from lineguard.server.thermal.schemas import ThermalAlarmView, ThermalAssetView, ThermalSeriesView
from lineguard.server.windows import read_window

__all__ = ["router"]

router = APIRouter(prefix="/thermal", tags=["thermal"])
ReadMaintenance = Annotated[Access, Depends(require(Action.MAINTENANCE_DATA_READ))]
DbSession = Annotated[Session, Depends(get_session)]
Start = Annotated[datetime | None, Query(description="UTC, inclusive; default: end minus 24 hours.")]
End = Annotated[datetime | None, Query(description="UTC, exclusive; default: now.")]
_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
Id = Annotated[str, Query(min_length=1, max_length=64, pattern=_NAME)]
OptionalId = Annotated[str | None, Query(min_length=1, max_length=64, pattern=_NAME)]
MAX_WINDOW = timedelta(days=31)


def _window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    return read_window(start, end, default=timedelta(hours=24), longest=MAX_WINDOW)


@router.get("/assets", summary="Watched assets: latest temperature against the learned band, alarms")
def get_assets(
    access: ReadMaintenance, session: DbSession, start: Start = None, end: End = None
) -> list[ThermalAssetView]:
    begin, stop = _window(start, end)
    found = service.asset_summaries(
        session, site_id=access.runtime.site, lines=access.scope.line_filter, start=begin, end=stop
    )
    access.record_read(records=len(found))
    return found


@router.get("/series", summary="One asset over the window: hottest pixel, its band, its trend, its alarms")
def get_series(
    access: ReadMaintenance,
    session: DbSession,
    line_id: Id,
    camera_id: Id,
    asset: Id,
    start: Start = None,
    end: End = None,
    max_points: Annotated[int, Query(ge=10, le=5000)] = 720,
) -> ThermalSeriesView:
    begin, stop = _window(start, end)
    access.check_line(line_id, record=f"{camera_id}/{asset}")
    found = service.asset_series(
        session,
        site_id=access.runtime.site,
        lines=access.scope.line_filter,
        line_id=line_id,
        camera_id=camera_id,
        asset=asset,
        start=begin,
        end=stop,
        max_points=max_points,
    )
    if found is None:
        msg = f"no thermal reading or alarm of {asset!r} at {line_id}/{camera_id} in this window"
        raise NotFoundError(msg)
    access.record_read(records=found.readings + len(found.alarms))
    return found


@router.get("/alarms", summary="Thermal alarms and maintenance recommendations, newest first")
def get_alarms(
    access: ReadMaintenance,
    session: DbSession,
    start: Start = None,
    end: End = None,
    line_id: OptionalId = None,
    camera_id: OptionalId = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ThermalAlarmView]:
    begin, stop = _window(start, end)
    if line_id is not None:
        access.check_line(line_id, record=f"thermal alarms of {line_id}")
    found = service.recent_alarms(
        session,
        site_id=access.runtime.site,
        lines=access.scope.line_filter,
        start=begin,
        end=stop,
        line_id=line_id,
        camera_id=camera_id,
        limit=limit,
    )
    access.record_read(records=len(found))
    return found
