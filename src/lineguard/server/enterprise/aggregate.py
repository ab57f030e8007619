"""Line-day aggregates from the plant's own rollups: counts only, built from columns in the clear.

Parts by verdict and per defect class come from ``rollup_daily`` (kept by ingest in the
batch's transaction, so they equal the raw tables), summed over cameras and model
versions; alerts are counted per (kind, severity) from ``alerts`` by the UTC day they
were raised. Nothing sealed is opened and no id is read: the aggregate cannot carry what
the query never selects.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lineguard.contracts.enterprise import AlertCount, DefectClassCount, LineDayAggregate
from lineguard.contracts.events import AlertKind, AlertSeverity
from lineguard.crypto import canonical_json
from lineguard.server.ingest import ALL_PARTS, AlertRow, RollupDaily

__all__ = ["LineDayCounts", "count_line_days", "day_start"]


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


@dataclass
class LineDayCounts:
    """What one line did on one day, before it is given a revision."""

    line_id: str
    day: date
    inspected: int = 0
    passed: int = 0
    failed: int = 0
    uncertain: int = 0
    defect_classes: dict[str, int] = field(default_factory=dict)
    alerts: dict[tuple[str, str], int] = field(default_factory=dict)

    def message(self, revision: int) -> LineDayAggregate:
        return LineDayAggregate(
            line_id=self.line_id,
            day=self.day,
            revision=revision,
            parts_inspected=self.inspected,
            parts_passed=self.passed,
            parts_failed=self.failed,
            parts_uncertain=self.uncertain,
            defect_classes=[
                DefectClassCount(defect_class=name, parts=n)
                for name, n in sorted(self.defect_classes.items())
            ],
            alerts=[
                AlertCount(kind=AlertKind(kind), severity=AlertSeverity(severity), count=n)
                for (kind, severity), n in sorted(self.alerts.items())
            ],
        )

    def digest(self) -> str:
        """sha256 of the counts (not the revision): equal counts, equal digest."""
        body: dict[str, Any] = self.message(1).model_dump(mode="json", exclude={"revision"})
        return hashlib.sha256(canonical_json(body)).hexdigest()


def count_line_days(
    session: Session, *, site_id: str, first_day: date, last_day: date
) -> list[LineDayCounts]:
    """Every line-day of ``site_id`` from ``first_day`` to ``last_day`` (UTC) with parts or alerts."""
    start, end = day_start(first_day), day_start(last_day) + timedelta(days=1)
    found: dict[tuple[str, date], LineDayCounts] = {}

    def entry(line_id: str, moment: datetime) -> LineDayCounts:
        day = moment.astimezone(UTC).date()
        return found.setdefault((line_id, day), LineDayCounts(line_id=line_id, day=day))

    r = RollupDaily
    parts = session.execute(
        select(
            r.line_id,
            r.day,
            r.defect_class,
            func.sum(r.inspected),
            func.sum(r.passed),
            func.sum(r.failed),
            func.sum(r.uncertain),
        )
        .where(r.site_id == site_id, r.day >= start, r.day < end)
        .group_by(r.line_id, r.day, r.defect_class)
    ).all()
    for line_id, day, defect_class, inspected, passed, failed, uncertain in parts:
        if not inspected:
            continue  # frames counted before part verdicts existed: no parts to report
        counts = entry(line_id, day)
        if defect_class == ALL_PARTS:
            counts.inspected, counts.passed = int(inspected), int(passed)
            counts.failed, counts.uncertain = int(failed), int(uncertain)
        else:
            counts.defect_classes[defect_class] = int(inspected)
    a = AlertRow
    cursor = first_day
    while cursor <= last_day:  # one grouped query per day: no dialect-specific date functions
        day_from = day_start(cursor)
        for line_id, kind, severity, n in session.execute(
            select(a.line_id, a.kind, a.severity, func.count())
            .where(a.site_id == site_id, a.raised_at >= day_from, a.raised_at < day_from + timedelta(days=1))
            .group_by(a.line_id, a.kind, a.severity)
        ):
            entry(line_id, day_from).alerts[(kind, severity)] = int(n)
        cursor += timedelta(days=1)
    return sorted(found.values(), key=lambda c: (c.day, c.line_id))
