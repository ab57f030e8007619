"""SPC routes (thin): the characteristics measured on the caller's lines, one control chart,
a characteristic's settings (rules, a new baseline; audited), and the review routes of drift
recommendations (``/reviews/spc_drift``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from lineguard.contracts.errors import NotFoundError
from lineguard.server.auth import Access, Action, require
from lineguard.server.context import get_session
from lineguard.server.measurements import service
from lineguard.server.measurements.kinds import SPC_DRIFT
from lineguard.server.measurements.schemas import (
    CharacteristicView,
    ControlChartView,
    SpcSettingsRequest,
    SpcSettingsView,
)
from lineguard.server.review import review_router

__all__ = ["router"]

api = APIRouter(prefix="/spc", tags=["spc"])
ReadResults = Annotated[Access, Depends(require(Action.INSPECTION_RESULTS_READ))]
WriteResults = Annotated[Access, Depends(require(Action.INSPECTION_RESULTS_WRITE))]
DbSession = Annotated[Session, Depends(get_session)]
Id = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


@api.get("/characteristics", summary="Characteristics measured on the caller's lines")
def get_characteristics(access: ReadResults, session: DbSession) -> list[CharacteristicView]:
    lines = access.scope.line_filter
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


@api.put(
    "/settings",
    summary="Choose a characteristic's Western Electric rules or start its baseline anew (audited)",
)
def put_settings(access: WriteResults, body: SpcSettingsRequest) -> SpcSettingsView:
    access.check_line(body.line_id, record=f"{body.station_id}/{body.characteristic}")
    return service.update_spc_settings_in_transaction(
        access.context.sessions,
        site_id=access.runtime.site,
        line_id=body.line_id,
        station_id=body.station_id,
        characteristic=body.characteristic,
        rules=body.rules,
        reset_baseline=body.reset_baseline,
        reason=body.reason,
        actor=access.principal.actor,
        audit=access.context.audit,
    )


router = APIRouter()
router.include_router(api)
router.include_router(review_router(SPC_DRIFT))
