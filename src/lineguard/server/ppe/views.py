"""The PPE route (thin): hourly counts per zone on the caller's lines (``safety_compliance.read``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from lineguard.server.auth import Access, Action, require
from lineguard.server.context import ServerContext, get_context, get_session
from lineguard.server.ppe import service
from lineguard.server.ppe.schemas import PpeReport

__all__ = ["router"]

router = APIRouter(prefix="/ppe", tags=["ppe"])
ReadSafety = Annotated[Access, Depends(require(Action.SAFETY_COMPLIANCE_READ))]
DbSession = Annotated[Session, Depends(get_session)]
Context = Annotated[ServerContext, Depends(get_context)]


@router.get("/counts", summary="PPE counts per zone and hour on the caller's lines (small counts suppressed)")
def get_counts(
    access: ReadSafety,
    session: DbSession,
    context: Context,
    hours: Annotated[int, Query(ge=1, le=24 * 92, description="How many hours back.")] = 24,
) -> PpeReport:
    lines = access.scope.line_filter
    since = (datetime.now(UTC) - timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)
    report = service.ppe_report(
        session,
        site_id=access.runtime.site,
        lines=lines,
        since=since,
        min_count=context.settings.safety.ppe_min_count,
    )
    access.record_read(records=len(report.hours))
    return report
