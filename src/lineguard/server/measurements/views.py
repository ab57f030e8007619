"""SPC routes (thin): the characteristics measured on the caller's lines, one control chart,
and the review routes of drift recommendations (``/reviews/spc_drift``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from lineguard.contracts.errors import NotFoundError
from lineguard.server.auth import Access, Action, require
from lineguard.server.context import get_session
from lineguard.server.measurements import service
from lineguard.server.measurements.kinds import SPC_DRIFT
from lineguard.server.measurements.schemas import CharacteristicView, ControlChartView
from lineguard.server.review import review_router

__all__ = ["router"]

api = APIRouter(prefix="/spc", tags=["spc"])
ReadResults = Annotated[Access, Depends(require(Action.INSPECTION_RESULTS_READ))]
DbSession = Annotated[Session, Depends(get_session)]
Id = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


@api.get("/characteristics", summary="Characteristics measured on the caller's lines")
def get_characteristics(access: ReadResults, session: DbSession) -> list[CharacteristicView]:
    lines = None if access.scope.all_lines else access.scope.lines
    found = service.list_characteristics(session, site_id=access.runtime.site, lines=lines)
    access.record_read(records=sum(c.measurements for c in found))
    return found


@api.get("/chart", summary="X̄/R control chart, Cp/Cpk and Western Electric rule hits of one characteristic")
def get_chart(
    access: ReadResults, session: DbSession, line_id: Id, station_id: Id, characteristic: Id
) -> ControlChartView:
    access.check_line(line_id, record=f"{station_id}/{characteristic}")
    found = service.control_chart(
        session,
        site_id=access.runtime.site,
        line_id=line_id,
        station_id=station_id,
        characteristic=characteristic,
    )
    if found is None:
        msg = f"no measurements of {characteristic!r} at {line_id}/{station_id}"
        raise NotFoundError(msg)
    access.record_read(records=found.measurements)
    return found


router = APIRouter()
router.include_router(api)
router.include_router(review_router(SPC_DRIFT))
