"""Label-check routes (thin): each station's outcomes in a window, and the latest checks.

``start``/``end`` are UTC (a time without an offset is read as UTC); the window defaults
to the last 24 hours and may span at most :data:`MAX_WINDOW`. Both routes are scoped to the
caller's lines and audit the read.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from lineguard.server.auth import Access, Action, require
from lineguard.server.context import get_session
from lineguard.server.labelchecks import service
from lineguard.server.labelchecks.schemas import LabelCheckView, LabelStationView
from lineguard.server.windows import read_window

__all__ = ["router"]

router = APIRouter(prefix="/label-checks", tags=["label-checks"])
ReadResults = Annotated[Access, Depends(require(Action.INSPECTION_RESULTS_READ))]
DbSession = Annotated[Session, Depends(get_session)]
Start = Annotated[datetime | None, Query(description="UTC, inclusive; default: end minus 24 hours.")]
End = Annotated[datetime | None, Query(description="UTC, exclusive; default: now.")]
Id = Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
MAX_WINDOW = timedelta(days=31)


@router.get("/stations", summary="Label stations: checks by outcome and the fields that differed")
def get_stations(
    access: ReadResults, session: DbSession, start: Start = None, end: End = None
) -> list[LabelStationView]:
    begin, stop = read_window(start, end, default=timedelta(hours=24), longest=MAX_WINDOW)
    found = service.station_summaries(
        session, site_id=access.runtime.site, lines=access.scope.line_filter, start=begin, end=stop
    )
    access.record_read(records=sum(s.checks for s in found))
    return found


@router.get("/recent", summary="The latest label checks, with their reasons and the part's record")
def get_recent(
    access: ReadResults,
    session: DbSession,
    start: Start = None,
    end: End = None,
    line_id: Id = None,
    station_id: Id = None,
    failed_only: Annotated[bool, Query(description="Only checks that did not pass.")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[LabelCheckView]:
    begin, stop = read_window(start, end, default=timedelta(hours=24), longest=MAX_WINDOW)
    if line_id is not None:
        access.check_line(line_id, record=f"label checks of {line_id}")
    found = service.recent_checks(
        session,
        site_id=access.runtime.site,
        lines=access.scope.line_filter,
        start=begin,
        end=stop,
        line_id=line_id,
        station_id=station_id,
        failed_only=failed_only,
        limit=limit,
    )
    access.record_read(records=len(found))
    return found
