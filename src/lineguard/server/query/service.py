"""Dashboard query services: keyword-only functions taking a session.

``lines`` is the set of lines the caller may read (``None``: every line of the site);
it is applied in SQL, before any aggregation. Time ranges are half-open
``[start, end)`` in UTC; buckets are UTC hours or UTC days. Everything but alerts and
node health is computed from the rollups, so the cost depends on lines × cameras ×
hours (or days) in range, not on the number of events stored: daily buckets and the
Pareto read ``rollup_daily`` for the whole days of their range and ``rollup_hourly``
only for the partial days at either end.

Every query takes an optional model filter, ``model_id`` and/or ``model_version``
(the release number; with ``model_id`` it names one release, alone it matches that
release number of any model). Aggregates filter the rollup, whose key includes the
model; alerts are kept when the inspection event that raised them was judged by that
model; node health lists the cameras currently running it (and the nodes that have one).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, exists, func, select
from sqlalchemy.orm import Session

from lineguard.contracts.errors import InputError
from lineguard.server.context import Sealer
from lineguard.server.ingest import (
    ALL_PARTS,
    UNKNOWN_MODEL_ID,
    AlertRow,
    CameraHealthRow,
    InspectionEventRow,
    NodeHealthRow,
    RollupDaily,
    RollupHourly,
)
from lineguard.server.nodes import Node
from lineguard.server.query.schemas import (
    AlertView,
    CameraHealthView,
    DefectClassPoint,
    ModelVersionSeen,
    NodeHealthView,
    ParetoEntry,
    QualityPoint,
)

__all__ = [
    "alert_view",
    "defect_pareto",
    "defect_rate_by_class",
    "model_versions_seen",
    "node_health",
    "quality_over_time",
    "recent_alerts",
]

Bucket = Literal["hour", "day"]
GroupBy = Literal["site", "line", "camera"]
MAX_RANGE = {"hour": timedelta(days=31), "day": timedelta(days=1000)}


def _check_range(start: datetime, end: datetime, bucket: Bucket) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        msg = "start and end must be timezone-aware (UTC)"
        raise InputError(msg)
    if end <= start:
        msg = f"end ({end.isoformat()}) must be after start ({start.isoformat()})"
        raise InputError(msg)
    if end - start > MAX_RANGE[bucket]:
        msg = f"a {bucket}ly series covers at most {MAX_RANGE[bucket].days} days, got {(end - start).days}"
        raise InputError(msg)


def _of_model(table: Any, model_id: str | None, model_version: int | None) -> list[ColumnElement[bool]]:
    """The model filter on any table with ``model_id`` and ``model_version`` columns."""
    where = []
    if model_id is not None:
        where.append(table.model_id == model_id)
    if model_version is not None:
        where.append(table.model_version == model_version)
    return where


@dataclass(frozen=True)
class _Scope:
    """What a caller may see and asked for; applied in SQL before any aggregation."""

    site_id: str
    lines: Collection[str] | None
    line_id: str | None = None
    camera_id: str | None = None
    model_id: str | None = None
    model_version: int | None = None

    def where(self, table: Any) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = [table.site_id == self.site_id]
        if self.lines is not None:
            where.append(table.line_id.in_(sorted(self.lines)))
        if self.line_id is not None:
            where.append(table.line_id == self.line_id)
        if self.camera_id is not None:
            where.append(table.camera_id == self.camera_id)
        return where + _of_model(table, self.model_id, self.model_version)


def _midnight(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _sources(
    start: datetime, end: datetime, *, whole_days: bool
) -> list[tuple[Any, Any, datetime, datetime]]:
    """(table, its time column, from, to) covering ``[start, end)``: with ``whole_days``
    the full UTC days come from ``rollup_daily`` and only the partial days at either end
    from ``rollup_hourly`` (a 90-day range reads ~90 rows per series, not ~2,160)."""
    hourly = (RollupHourly, RollupHourly.hour)
    if not whole_days:
        return [(*hourly, start, end)]
    first = _midnight(start)
    if first < start:
        first += timedelta(days=1)
    last = _midnight(end)
    if last <= first:
        return [(*hourly, start, end)]
    parts: list[tuple[Any, Any, datetime, datetime]] = [(RollupDaily, RollupDaily.day, first, last)]
    if start < first:
        parts.append((*hourly, start, first))
    if last < end:
        parts.append((*hourly, last, end))
    return parts


def _bucket_column(session: Session, table: Any, time_column: Any, bucket: Bucket) -> Any:
    """The row's hour or day, or the UTC day of an hourly row computed by the database."""
    if bucket == "hour" or table is RollupDaily:
        return time_column
    if session.get_bind().dialect.name == "postgresql":
        return func.date_trunc("day", func.timezone("UTC", time_column))
    return func.substr(time_column, 1, 10)  # SQLite stores 'YYYY-MM-DD HH:MM:SS' in UTC


def _sum_rollups(
    session: Session,
    scope: _Scope,
    start: datetime,
    end: datetime,
    *,
    bucket: Bucket | None,
    group: Sequence[str],
    sums: Callable[[Any], list[Any]],
    classes: Callable[[Any], list[ColumnElement[bool]]],
) -> dict[tuple[Any, ...], list[int]]:
    """``{(bucket?, *group): [sums…]}`` over the rollups, each source summed in SQL."""
    totals: dict[tuple[Any, ...], list[int]] = {}
    for table, time_column, lo, hi in _sources(start, end, whole_days=bucket != "hour"):
        keys: list[Any] = [_bucket_column(session, table, time_column, bucket)] if bucket else []
        keys += [getattr(table, name) for name in group]
        stmt: Select[Any] = (
            select(*keys, *sums(table))
            .where(time_column >= lo, time_column < hi, *classes(table), *scope.where(table))
            .group_by(*keys)
        )
        for row in session.execute(stmt):
            key = tuple(row[: len(keys)])
            if bucket:
                key = (_as_utc(key[0]), *key[1:])
            counts = [int(n or 0) for n in row[len(keys) :]]
            if key in totals:
                totals[key] = [a + b for a, b in zip(totals[key], counts, strict=True)]
            else:
                totals[key] = counts
    return totals


def _as_utc(value: Any) -> datetime:
    if isinstance(value, str):  # a SQLite day
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        msg = f"unexpected bucket value {value!r}"
        raise TypeError(msg)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _all_parts(table: Any) -> list[ColumnElement[bool]]:
    return [table.defect_class == ALL_PARTS]


def _named_classes(table: Any) -> list[ColumnElement[bool]]:
    return [table.defect_class != ALL_PARTS]


def _any_class(_table: Any) -> list[ColumnElement[bool]]:
    return []


def _verdict_sums(table: Any) -> list[Any]:
    return [
        func.sum(table.inspected),
        func.sum(table.passed),
        func.sum(table.failed),
        func.sum(table.uncertain),
        func.sum(table.frames),
        func.sum(table.frames_failed),
    ]


def _defective_sums(table: Any) -> list[Any]:
    return [func.sum(table.failed + table.uncertain), func.sum(table.inspected)]


def quality_over_time(
    session: Session,
    *,
    site_id: str,
    start: datetime,
    end: datetime,
    bucket: Bucket = "hour",
    group_by: GroupBy = "line",
    lines: Collection[str] | None,
    line_id: str | None = None,
    camera_id: str | None = None,
    model_id: str | None = None,
    model_version: int | None = None,
) -> list[QualityPoint]:
    """Yield and defect rate per bucket, per site, line or camera."""
    _check_range(start, end, bucket)
    scope = _Scope(site_id, lines, line_id, camera_id, model_id, model_version)
    dims = {"site": [], "line": ["line_id"], "camera": ["line_id", "camera_id"]}[group_by]
    totals = _sum_rollups(
        session, scope, start, end, bucket=bucket, group=dims, sums=_verdict_sums, classes=_all_parts
    )
    points = []
    for key, (inspected, passed, failed, uncertain, frames, frames_failed) in sorted(totals.items()):
        points.append(
            QualityPoint(
                bucket_start=key[0],
                line_id=key[1] if group_by != "site" else None,
                camera_id=key[2] if group_by == "camera" else None,
                inspected=inspected,
                passed=passed,
                failed=failed,
                uncertain=uncertain,
                frames=frames,
                frames_failed=frames_failed,
                yield_rate=_rate(passed, inspected),
                defect_rate=_rate(failed, inspected),
            )
        )
    return points


def defect_rate_by_class(
    session: Session,
    *,
    site_id: str,
    start: datetime,
    end: datetime,
    bucket: Bucket = "day",
    lines: Collection[str] | None,
    line_id: str | None = None,
    camera_id: str | None = None,
    model_id: str | None = None,
    model_version: int | None = None,
) -> list[DefectClassPoint]:
    """Per bucket and defect class: defective parts of that class, as a share of all parts."""
    _check_range(start, end, bucket)
    scope = _Scope(site_id, lines, line_id, camera_id, model_id, model_version)
    totals = _sum_rollups(
        session,
        scope,
        start,
        end,
        bucket=bucket,
        group=["defect_class"],
        sums=_defective_sums,
        classes=_any_class,
    )
    inspected: dict[datetime, int] = defaultdict(int)
    parts: dict[tuple[datetime, str], int] = defaultdict(int)
    for (b, defect_class), (defective, all_parts) in totals.items():
        if defect_class == ALL_PARTS:
            inspected[b] += all_parts
        else:
            parts[(b, defect_class)] += defective
    return [
        DefectClassPoint(bucket_start=b, defect_class=c, parts=n, rate=_rate(n, inspected[b]))
        for (b, c), n in sorted(parts.items())
        if n
    ]


def defect_pareto(
    session: Session,
    *,
    site_id: str,
    start: datetime,
    end: datetime,
    lines: Collection[str] | None,
    line_id: str | None = None,
    camera_id: str | None = None,
    model_id: str | None = None,
    model_version: int | None = None,
) -> list[ParetoEntry]:
    """Defect classes by number of defective parts, largest first, with cumulative share."""
    _check_range(start, end, "day")
    scope = _Scope(site_id, lines, line_id, camera_id, model_id, model_version)
    totals = _sum_rollups(
        session,
        scope,
        start,
        end,
        bucket=None,
        group=["defect_class"],
        sums=_defective_sums,
        classes=_named_classes,
    )
    counts = sorted(((c, n) for (c,), (n, _) in totals.items() if n), key=lambda x: (-x[1], x[0]))
    total = sum(n for _, n in counts)
    entries, running = [], 0
    for defect_class, n in counts:
        running += n
        entries.append(
            ParetoEntry(defect_class=defect_class, parts=n, share=n / total, cumulative_share=running / total)
        )
    return entries


def recent_alerts(
    session: Session,
    *,
    site_id: str,
    lines: Collection[str] | None,
    sealer: Sealer,
    limit: int = 50,
    since: datetime | None = None,
    model_id: str | None = None,
    model_version: int | None = None,
) -> list[AlertView]:
    """Newest alerts first; messages are opened (decrypted) for the caller.

    With a model filter, only alerts raised for an inspection event judged by that
    model (alerts without an event, such as camera faults, are left out)."""
    if not 1 <= limit <= 500:
        msg = f"limit must be between 1 and 500, got {limit}"
        raise InputError(msg)
    a = AlertRow
    stmt = select(a).where(a.site_id == site_id).order_by(a.raised_at.desc()).limit(limit)
    if lines is not None:
        stmt = stmt.where(a.line_id.in_(sorted(lines)))
    if since is not None:
        stmt = stmt.where(a.raised_at >= since)
    if model_id is not None or model_version is not None:
        e = InspectionEventRow
        stmt = stmt.where(
            exists().where(
                e.event_id == a.event_id, e.node_id == a.node_id, *_of_model(e, model_id, model_version)
            )
        )
    return [alert_view(row, sealer=sealer) for row in session.scalars(stmt)]


def alert_view(row: AlertRow, *, sealer: Sealer) -> AlertView:
    """One stored alert as the API shows it, its sealed message opened for the caller."""
    message = sealer.open(
        row.message_sealed, object_id=f"{row.node_id}:{row.idempotency_key}", category="alerts"
    )
    return AlertView(
        alert_id=row.alert_id,
        node_id=row.node_id,
        line_id=row.line_id,
        camera_id=row.camera_id,
        kind=row.kind,
        severity=row.severity,
        raised_at=row.raised_at,
        message=message.decode("utf-8", errors="replace"),
        defect_class=row.defect_class,
    )


def node_health(
    session: Session,
    *,
    site_id: str,
    lines: Collection[str] | None,
    now: datetime | None = None,
    offline_after_s: float = 120.0,
    model_id: str | None = None,
    model_version: int | None = None,
) -> list[NodeHealthView]:
    """Every enrolled node of the site with its latest heartbeat and cameras.

    With a model filter: only the cameras whose last heartbeat reports that model, and
    only the nodes with at least one such camera."""
    now = now or datetime.now(UTC)
    stmt = (
        select(Node, NodeHealthRow)
        .outerjoin(NodeHealthRow, NodeHealthRow.node_id == Node.node_id)
        .where(Node.site_id == site_id)
        .order_by(Node.line_id, Node.node_id)
    )
    if lines is not None:
        stmt = stmt.where(Node.line_id.in_(sorted(lines)))
    rows = session.execute(stmt).all()
    cameras: dict[str, list[CameraHealthView]] = defaultdict(list)
    node_ids = [node.node_id for node, _ in rows]
    if node_ids:
        for c in session.scalars(
            select(CameraHealthRow)
            .where(
                CameraHealthRow.node_id.in_(node_ids), *_of_model(CameraHealthRow, model_id, model_version)
            )
            .order_by(CameraHealthRow.camera_id)
        ):
            cameras[c.node_id].append(
                CameraHealthView(
                    camera_id=c.camera_id,
                    state=c.state,
                    fps=c.fps,
                    latency_p50_ms=c.latency_p50_ms,
                    latency_p99_ms=c.latency_p99_ms,
                    frames_dropped=c.frames_dropped,
                    model_id=c.model_id,
                    model_version=c.model_version,
                    updated_at=c.updated_at,
                )
            )
    filtered = model_id is not None or model_version is not None
    views = []
    for node, health in rows:
        if filtered and not cameras[node.node_id]:
            continue
        last_seen = health.last_seen_at if health else None
        views.append(
            NodeHealthView(
                node_id=node.node_id,
                line_id=node.line_id,
                status=node.status,
                last_seen_at=last_seen,
                online=last_seen is not None and (now - last_seen).total_seconds() <= offline_after_s,
                software_version=health.software_version if health else None,
                outbox_backlog=health.outbox_backlog if health else None,
                disk_used_bytes=health.disk_used_bytes if health else None,
                cameras=cameras[node.node_id],
            )
        )
    return views


def model_versions_seen(
    session: Session,
    *,
    site_id: str,
    lines: Collection[str] | None,
    start: datetime | None = None,
    end: datetime | None = None,
    line_id: str | None = None,
    camera_id: str | None = None,
) -> list[ModelVersionSeen]:
    """The model versions that judged parts in scope (optionally in ``[start, end)``),
    newest first: what the dashboard offers as its model filter. Parts counted before
    the rollup kept the model (``UNKNOWN_MODEL_ID``) are not listed."""
    r = RollupHourly
    where = [r.defect_class == ALL_PARTS, r.model_id != UNKNOWN_MODEL_ID]
    where += _Scope(site_id, lines, line_id, camera_id).where(r)
    if start is not None:
        where.append(r.hour >= start)
    if end is not None:
        where.append(r.hour < end)
    stmt = (
        select(r.model_id, r.model_version, func.min(r.hour), func.max(r.hour), func.sum(r.inspected))
        .where(*where)
        .group_by(r.model_id, r.model_version)
    )
    seen = [
        ModelVersionSeen(
            model_id=model_id,
            model_version=version,
            first_hour=_as_utc(first),
            last_hour=_as_utc(last),
            inspected=int(inspected or 0),
        )
        for model_id, version, first, last, inspected in session.execute(stmt)
    ]
    return sorted(seen, key=lambda m: (m.last_hour, m.model_id, m.model_version), reverse=True)
