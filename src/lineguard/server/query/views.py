"""Dashboard routes (thin): each declares its permission, passes the caller's readable
lines to the service and records the read in the audit log."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from lineguard.server.auth import Access, Action, require
from lineguard.server.context import get_session
from lineguard.server.query import service
from lineguard.server.query.schemas import (
    AlertView,
    DefectClassPoint,
    ModelVersionSeen,
    NodeHealthView,
    ParetoEntry,
    QualityPoint,
)

__all__ = ["RecordFilter", "record_filter", "router"]

router = APIRouter(prefix="/dashboard", tags=["dashboard"])

ReadResults = Annotated[Access, Depends(require(Action.INSPECTION_RESULTS_READ))]
ReadNodes = Annotated[Access, Depends(require(Action.NODE_MANAGEMENT_READ))]
DbSession = Annotated[Session, Depends(get_session)]
Start = Annotated[datetime | None, Query(description="UTC, inclusive; default: end minus 7 days.")]
End = Annotated[datetime | None, Query(description="UTC, exclusive; default: now.")]
LineId = Annotated[str | None, Query(max_length=64)]
CameraId = Annotated[str | None, Query(max_length=64)]
ModelId = Annotated[str | None, Query(max_length=128, description="Only parts judged by this model.")]
ModelVersion = Annotated[
    int | None,
    Query(ge=1, description="Only parts judged by this release number (with model_id: of that model)."),
]


def _utc(moment: datetime) -> datetime:
    # A time without an offset in a query string is read as UTC (documented on the route).
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _range(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    end = _utc(end) if end is not None else datetime.now(UTC)
    return (_utc(start) if start is not None else end - timedelta(days=7)), end


@dataclass(frozen=True)
class RecordFilter:
    """The filters every chart shares: a time range (default: the last 7 days, UTC) and
    optionally one line, camera, model and release. Declared once, as a dependency."""

    start: datetime
    end: datetime
    line_id: str | None
    camera_id: str | None
    model_id: str | None
    model_version: int | None

    def kwargs(self) -> dict[str, Any]:
        """As the service functions' keyword arguments."""
        return asdict(self)


def record_filter(
    start: Start = None,
    end: End = None,
    line_id: LineId = None,
    camera_id: CameraId = None,
    model_id: ModelId = None,
    model_version: ModelVersion = None,
) -> RecordFilter:
    start, end = _range(start, end)
    return RecordFilter(start, end, line_id, camera_id, model_id, model_version)


Filter = Annotated[RecordFilter, Depends(record_filter)]


@router.get("/quality", summary="Yield and defect rate over time")
def get_quality(
    access: ReadResults,
    session: DbSession,
    where: Filter,
    bucket: service.Bucket = "hour",
    group_by: service.GroupBy = "line",
) -> list[QualityPoint]:
    points = service.quality_over_time(
        session,
        site_id=access.runtime.site,
        bucket=bucket,
        group_by=group_by,
        lines=access.scope.line_filter,
        **where.kwargs(),
    )
    access.record_read(records=sum(p.inspected for p in points))
    return points


@router.get("/defects", summary="Defect rate by defect class over time")
def get_defects(
    access: ReadResults, session: DbSession, where: Filter, bucket: service.Bucket = "day"
) -> list[DefectClassPoint]:
    points = service.defect_rate_by_class(
        session, site_id=access.runtime.site, bucket=bucket, lines=access.scope.line_filter, **where.kwargs()
    )
    access.record_read(records=sum(p.parts for p in points))
    return points


@router.get("/pareto", summary="Pareto of defect classes")
def get_pareto(access: ReadResults, session: DbSession, where: Filter) -> list[ParetoEntry]:
    entries = service.defect_pareto(
        session, site_id=access.runtime.site, lines=access.scope.line_filter, **where.kwargs()
    )
    access.record_read(records=sum(e.parts for e in entries))
    return entries


@router.get("/alerts", summary="Recent alerts, newest first")
def get_alerts(
    access: ReadResults,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    since: datetime | None = None,
    model_id: ModelId = None,
    model_version: ModelVersion = None,
) -> list[AlertView]:
    alerts = service.recent_alerts(
        session,
        site_id=access.runtime.site,
        lines=access.scope.line_filter,
        sealer=access.context.sealer,
        limit=limit,
        since=since,
        model_id=model_id,
        model_version=model_version,
    )
    access.record_read(records=len(alerts))
    return alerts


@router.get("/nodes", summary="Health of every edge node")
def get_nodes(
    access: ReadNodes, session: DbSession, model_id: ModelId = None, model_version: ModelVersion = None
) -> list[NodeHealthView]:
    return service.node_health(
        session,
        site_id=access.runtime.site,
        lines=access.scope.line_filter,
        model_id=model_id,
        model_version=model_version,
    )


@router.get("/model-versions", summary="Model versions that judged parts (the dashboard's model filter)")
def get_model_versions(
    access: ReadResults,
    session: DbSession,
    start: Annotated[datetime | None, Query(description="UTC, inclusive; default: no lower bound.")] = None,
    end: Annotated[datetime | None, Query(description="UTC, exclusive; default: no upper bound.")] = None,
    line_id: LineId = None,
    camera_id: CameraId = None,
) -> list[ModelVersionSeen]:
    seen = service.model_versions_seen(
        session,
        site_id=access.runtime.site,
        lines=access.scope.line_filter,
        start=_utc(start) if start is not None else None,
        end=_utc(end) if end is not None else None,
        line_id=line_id,
        camera_id=camera_id,
    )
    access.record_read(records=len(seen))
    return seen
