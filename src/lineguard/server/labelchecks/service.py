"""Read label checks from ``stage_results`` (kind ``label``): per-station counts and the latest checks.

Keyword-only functions taking a session; reads only. Passed checks are counted in SQL;
the others (a few per cent on a working line) are read with their reasons, at most
:data:`MAX_FAILED_SCANNED` of the newest per call, to classify them (:mod:`.outcomes`)
and count the fields that differed.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lineguard.contracts.stages import StageKind
from lineguard.server.ingest import PartVerdictRow, StageResultRow
from lineguard.server.labelchecks.outcomes import Outcome, outcome_of
from lineguard.server.labelchecks.schemas import LabelCheckView, LabelReasonView, LabelStationView

__all__ = ["MAX_FAILED_SCANNED", "recent_checks", "station_summaries"]

#: Checks that did not pass, read per call to classify them (newest first).
MAX_FAILED_SCANNED = 50_000

Station = tuple[str, str, str, str]  # line, station, camera, stage


def _where(*, site_id: str, lines: frozenset[str] | None, start: datetime, end: datetime) -> list[Any]:
    return StageResultRow.of_kind_in_window(
        StageKind.LABEL.value, site_id=site_id, lines=lines, start=start, end=end
    )


def _codes(reasons: list[dict[str, Any]]) -> list[str]:
    return [str(r.get("code", "")) for r in reasons]


def station_summaries(
    session: Session, *, site_id: str, lines: frozenset[str] | None, start: datetime, end: datetime
) -> list[LabelStationView]:
    """Every label station of the caller's lines with checks in ``[start, end)``."""
    s = StageResultRow
    where = _where(site_id=site_id, lines=lines, start=start, end=end)
    key = (s.line_id, s.station_id, s.camera_id, s.stage)
    totals: dict[Station, Counter[str]] = {}
    last: dict[Station, datetime] = {}
    counted = (
        select(*key, s.verdict, func.count(), func.max(s.captured_at)).where(*where).group_by(*key, s.verdict)
    )
    for line, station, camera, stage, verdict, n, newest in session.execute(counted):
        k = (line, station, camera, stage)
        totals.setdefault(k, Counter())["checks"] += int(n)
        if verdict == "pass":
            totals[k][Outcome.READ.value] += int(n)
        last[k] = max(newest, last.get(k, newest))
    fields: dict[Station, Counter[str]] = {k: Counter() for k in totals}
    failed = (
        select(*key, s.verdict, s.reasons)
        .where(*where, s.verdict != "pass")
        .order_by(s.captured_at.desc())
        .limit(MAX_FAILED_SCANNED)
    )
    for line, station, camera, stage, verdict, reasons in session.execute(failed):
        k = (line, station, camera, stage)
        outcome = outcome_of(verdict, _codes(reasons))
        totals[k][outcome.value] += 1
        if outcome is Outcome.MISMATCH:
            fields[k].update(str(r.get("subject", "")) for r in reasons if r.get("code") == "mismatch")
    return [
        LabelStationView(
            line_id=k[0],
            station_id=k[1],
            camera_id=k[2],
            stage=k[3],
            checks=c["checks"],
            read=c[Outcome.READ.value],
            mismatch=c[Outcome.MISMATCH.value],
            unreadable=c[Outcome.UNREADABLE.value],
            upside_down=c[Outcome.UPSIDE_DOWN.value],
            not_judged=c[Outcome.NOT_JUDGED.value],
            fields=dict(fields[k].most_common()),
            last_at=last[k],
        )
        for k, c in sorted(totals.items())
    ]


def recent_checks(
    session: Session,
    *,
    site_id: str,
    lines: frozenset[str] | None,
    start: datetime,
    end: datetime,
    line_id: str | None = None,
    station_id: str | None = None,
    failed_only: bool = False,
    limit: int = 50,
) -> list[LabelCheckView]:
    """The newest checks in ``[start, end)``, optionally of one station or only those not passed."""
    s, p = StageResultRow, PartVerdictRow
    where = _where(site_id=site_id, lines=lines, start=start, end=end)
    if line_id is not None:
        where.append(s.line_id == line_id)
    if station_id is not None:
        where.append(s.station_id == station_id)
    if failed_only:
        where.append(s.verdict != "pass")
    query = (
        select(s, p.decisive_event_id)
        .outerjoin(p, (p.part_verdict_id == s.part_verdict_id) & (p.node_id == s.node_id))
        .where(*where)
        .order_by(s.captured_at.desc(), s.row_id.desc())
        .limit(limit)
    )
    return [
        LabelCheckView(
            result_id=row.result_id,
            line_id=row.line_id,
            station_id=row.station_id,
            camera_id=row.camera_id,
            stage=row.stage,
            captured_at=row.captured_at,
            verdict=row.verdict,
            outcome=outcome_of(row.verdict, _codes(row.reasons)),
            reasons=[LabelReasonView.model_validate(r) for r in row.reasons],
            record_event_id=event_id,
        )
        for row, event_id in session.execute(query)
    ]
