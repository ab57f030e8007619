"""Store measurements, watch each characteristic for drift, and read its control chart.

:func:`record_measurements` runs inside ingest's transaction: it stores one row per
measured value of the newly stored stage results and, for every characteristic they
touched, checks the Western Electric rules (:mod:`.spc`) at each subgroup the batch
completed. A rule that fires opens one ``spc_drift`` review item (a recommendation,
``ai.recommendation`` in the audit trail) whose proposal says which characteristic, which
rule, where the mean sits against the centre line and the limits, and Cpk. Presence
checks (``count``) are attributes, not variables: they are stored but not charted.

Each characteristic is charted with its settings (:class:`.models.SpcSettingsRow`): the
rules tested (default :data:`.spc.DEFAULT_RULES`) and where its baseline starts. A
quality engineer changes them with :func:`update_spc_settings` — choosing the rules, or
starting a new baseline after a deliberate change to the process (a new tool, a new
fixture): values from then on form the chart, the first 100 its baseline. Every change
is audited as ``config.changed`` with who, why, before and after.

Keyword-only functions taking a session; no commits here except where a route reads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from lineguard.contracts.audit import ConfigChanged
from lineguard.contracts.errors import InputError, NotFoundError
from lineguard.contracts.stages import StageResult
from lineguard.server.context import AuditHook
from lineguard.server.measurements.kinds import SPC_DRIFT
from lineguard.server.measurements.models import MeasurementRow, SpcSettingsRow
from lineguard.server.measurements.schemas import (
    CharacteristicView,
    ControlChartView,
    RuleHit,
    SpcSettingsView,
    SubgroupPoint,
)
from lineguard.server.measurements.spc import (
    BASELINE_SUBGROUPS,
    DEFAULT_RULES,
    RULES,
    SUBGROUP,
    Chart,
    Firing,
    chart,
    firings,
)
from lineguard.server.review import Proposal, propose_many

__all__ = [
    "control_chart",
    "list_characteristics",
    "record_measurements",
    "update_spc_settings",
    "update_spc_settings_in_transaction",
]

#: Characteristics are charted from their baseline and their most recent values.
RECENT_VALUES = 500
#: Units of attribute data (counted, not measured): never charted.
ATTRIBUTE_UNITS = frozenset({"count"})

Key = tuple[str, str, str, str]  # site, line, station, characteristic


def _rows(result: StageResult) -> list[dict[str, Any]]:
    return [
        {
            "result_id": result.result_id,
            "part_verdict_id": result.part_verdict_id,
            "node_id": result.node_id,
            "site_id": result.site_id,
            "line_id": result.line_id,
            "station_id": result.station_id,
            "camera_id": result.camera_id,
            "stage": result.stage,
            "characteristic": m.characteristic,
            "captured_at": result.captured_at,
            "value": m.value,
            "uncertainty": m.uncertainty,
            "unit": m.unit,
            "nominal": m.nominal,
            "lower_limit": m.lower_limit,
            "upper_limit": m.upper_limit,
            "in_tolerance": m.in_tolerance,
        }
        for m in result.measurements
    ]


@dataclass(frozen=True, slots=True)
class Settings:
    rules: tuple[int, ...] = DEFAULT_RULES
    baseline_from: datetime | None = None


def _settings(session: Session, key: Key) -> Settings:
    row = session.get(SpcSettingsRow, key)
    if row is None:
        return Settings()
    return Settings(tuple(int(r) for r in row.rules.split(",")), row.baseline_from)


def _where(key: Key, settings: Settings | None = None) -> list[Any]:
    site, line, station, characteristic = key
    where = [
        MeasurementRow.site_id == site,
        MeasurementRow.line_id == line,
        MeasurementRow.station_id == station,
        MeasurementRow.characteristic == characteristic,
    ]
    if settings is not None and settings.baseline_from is not None:
        where.append(MeasurementRow.captured_at >= settings.baseline_from)
    return where


def _series(
    session: Session, key: Key, settings: Settings
) -> tuple[list[float], list[float], int, int, MeasurementRow | None]:
    """The baseline's values, the recent values, the recent values' first subgroup index,
    how many values there are since the baseline's start, and the newest row (its limits
    are the ones in force)."""
    order = (MeasurementRow.captured_at, MeasurementRow.row_id)
    total = session.scalar(select(func.count()).where(*_where(key, settings))) or 0
    head_n = BASELINE_SUBGROUPS * SUBGROUP
    head = list(
        session.scalars(
            select(MeasurementRow.value).where(*_where(key, settings)).order_by(*order).limit(head_n)
        )
    )
    start = max(head_n, (total - RECENT_VALUES) // SUBGROUP * SUBGROUP)
    tail = list(
        session.scalars(
            select(MeasurementRow.value).where(*_where(key, settings)).order_by(*order).offset(start)
        )
    )
    newest = session.scalars(
        select(MeasurementRow).where(*_where(key, settings)).order_by(*(c.desc() for c in order)).limit(1)
    ).first()
    return head, tail, start // SUBGROUP, int(total), newest


def _chart(session: Session, key: Key, settings: Settings) -> tuple[Chart | None, MeasurementRow | None, int]:
    """The characteristic's chart, its newest row, and how many values it has (since its baseline)."""
    head, tail, start, total, newest = _series(session, key, settings)
    if newest is None:
        return None, None, 0
    return chart(head, newest.lower_limit, newest.upper_limit, later=tail, later_start=start), newest, total


def _signal_id(key: Key, rule: int, subgroup: int, baseline_from: datetime | None) -> str:
    # The baseline's start is part of the id: subgroup numbers restart with a new baseline,
    # and its first drift must open an item, not be taken for one of the old baseline's.
    epoch = "" if baseline_from is None else baseline_from.isoformat()
    digest = hashlib.sha256("\x1f".join([*key, str(rule), str(subgroup), epoch]).encode()).hexdigest()
    return f"spc-{digest[:32]}"


def record_measurements(
    session: Session, *, node_id: str, results: Sequence[StageResult], audit: AuditHook, now: datetime
) -> int:
    """Store the measurements of newly stored ``results`` and propose review items for
    drift they reveal; returns how many drift items were opened."""
    rows = [row for result in results for row in _rows(result)]
    if not rows:
        return 0
    added: dict[Key, int] = {}
    for row in rows:
        if row["unit"] not in ATTRIBUTE_UNITS:
            key = (row["site_id"], row["line_id"], row["station_id"], row["characteristic"])
            added[key] = added.get(key, 0) + 1
    session.execute(insert(MeasurementRow), rows)
    proposals = []
    for key in sorted(added):
        settings = _settings(session, key)
        result, newest, total = _chart(session, key, settings)
        if result is None or newest is None:
            continue
        # Subgroups complete before this batch (a batch's values all count as new: with a
        # baseline reset some may predate it, which can only make a hit count twice, and
        # the item's id makes that one item).
        before = max(total - added[key], 0) // SUBGROUP
        for hit in firings(result, since=before, rules=settings.rules):
            proposals.append(_proposal(key, result, newest, hit, settings, now))
    return len(
        propose_many(
            session, kind=SPC_DRIFT, proposals=proposals, actor=f"node:{node_id}", audit=audit, now=now
        )
    )


def _proposal(
    key: Key, result: Chart, newest: MeasurementRow, hit: Firing, settings: Settings, now: datetime
) -> Proposal:
    rule, subgroup, mean, side = hit.rule, hit.subgroup, hit.mean, hit.side
    site, line, station, characteristic = key
    limit = newest.upper_limit if side == "above" else newest.lower_limit
    toward = "upper" if side == "above" else "lower"
    return Proposal(
        subject_id=_signal_id(key, rule, subgroup, settings.baseline_from),
        site_id=site,
        line_id=line,
        raised_at=now,
        content={
            "characteristic": characteristic,
            "station_id": station,
            "stage": newest.stage,
            "camera_id": newest.camera_id,
            "rule": rule,
            "rule_text": RULES[rule],
            "subgroup": subgroup,
            "subgroup_mean": round(mean, 6),
            "centre": round(result.centre, 6),
            "ucl": round(result.ucl, 6),
            "lcl": round(result.lcl, 6),
            "limit": limit,
            "side": side,
            "cpk": None if result.cpk is None else round(result.cpk, 3),
            "unit": newest.unit,
            "action": (
                f"{characteristic} at station {station} is drifting towards its {toward} limit "
                f"({RULES[rule]}): check tool wear, fixture and settings before parts go out of tolerance"
            ),
        },
    )


def list_characteristics(
    session: Session, *, site_id: str, lines: frozenset[str] | None
) -> list[CharacteristicView]:
    """Every characteristic measured on the caller's lines, with its count and last value."""
    group = (
        MeasurementRow.line_id,
        MeasurementRow.station_id,
        MeasurementRow.stage,
        MeasurementRow.characteristic,
    )
    query = (
        select(
            *group,
            func.count(),
            func.sum(case((MeasurementRow.in_tolerance.is_(False), 1), else_=0)),
            func.max(MeasurementRow.row_id),
        )
        .where(MeasurementRow.site_id == site_id)
        .group_by(*group)
        .order_by(*group)
    )
    if lines is not None:
        query = query.where(MeasurementRow.line_id.in_(sorted(lines)))
    out = []
    for line, station, stage, characteristic, count, bad, last_id in session.execute(query):
        last = session.get(MeasurementRow, last_id)
        assert last is not None  # noqa: S101 - the id comes from the same table
        out.append(
            CharacteristicView(
                line_id=line,
                station_id=station,
                stage=stage,
                characteristic=characteristic,
                unit=last.unit,
                measurements=int(count),
                out_of_tolerance=int(bad or 0),
                last_value=last.value,
                last_at=last.captured_at,
                nominal=last.nominal,
                lower_limit=last.lower_limit,
                upper_limit=last.upper_limit,
            )
        )
    return out


def control_chart(
    session: Session, *, site_id: str, line_id: str, station_id: str, characteristic: str
) -> ControlChartView | None:
    """The X̄/R chart of one characteristic (``None``: never measured; no subgroups yet
    after a new baseline)."""
    key = (site_id, line_id, station_id, characteristic)
    settings = _settings(session, key)
    result, newest, total = _chart(session, key, settings)
    if newest is None:
        order_desc = (MeasurementRow.captured_at.desc(), MeasurementRow.row_id.desc())
        newest = session.scalars(select(MeasurementRow).where(*_where(key)).order_by(*order_desc)).first()
        if newest is None:
            return None
    order = (MeasurementRow.captured_at, MeasurementRow.row_id)
    times = list(
        session.scalars(select(MeasurementRow.captured_at).where(*_where(key, settings)).order_by(*order))
    )
    points = []
    hits: list[RuleHit] = []
    if result is not None:
        for index, mean, rng in zip(result.indices, result.means, result.ranges, strict=True):
            first = times[index * SUBGROUP] if index * SUBGROUP < len(times) else newest.captured_at
            last = times[min(index * SUBGROUP + SUBGROUP - 1, len(times) - 1)]
            points.append(SubgroupPoint(index=index, mean=mean, range=rng, first_at=first, last_at=last))
        hits = [
            RuleHit(rule=f.rule, description=RULES[f.rule], subgroup=f.subgroup, side=f.side)
            for f in firings(result, rules=settings.rules)
        ]
    return ControlChartView(
        line_id=line_id,
        station_id=station_id,
        characteristic=characteristic,
        unit=newest.unit,
        subgroup_size=SUBGROUP,
        measurements=total,
        nominal=newest.nominal,
        lower_limit=newest.lower_limit,
        upper_limit=newest.upper_limit,
        centre=None if result is None else result.centre,
        ucl=None if result is None else result.ucl,
        lcl=None if result is None else result.lcl,
        mean_range=None if result is None else result.mean_range,
        r_ucl=None if result is None else result.r_ucl,
        sigma=None if result is None else result.sigma,
        cp=None if result is None else result.cp,
        cpk=None if result is None else result.cpk,
        baseline_subgroups=0 if result is None else result.baseline,
        rules=list(settings.rules),
        baseline_from=settings.baseline_from,
        subgroups=points,
        rule_hits=hits,
    )


def update_spc_settings(
    session: Session,
    *,
    site_id: str,
    line_id: str,
    station_id: str,
    characteristic: str,
    rules: Sequence[int] | None,
    reset_baseline: bool,
    reason: str,
    actor: str,
    audit: AuditHook,
    now: datetime,
) -> SpcSettingsView:
    """Choose a characteristic's rules and/or start its baseline anew at ``now``; audited.

    Refused: nothing to change, an unknown or empty rule set (:class:`InputError`), a
    characteristic never measured there (:class:`NotFoundError`)."""
    if rules is None and not reset_baseline:
        msg = "nothing to change: give rules, or reset_baseline: true"
        raise InputError(msg)
    if rules is not None:
        unknown = sorted(set(rules) - set(RULES))
        if not rules or unknown:
            msg = f"rules must be a non-empty subset of {sorted(RULES)}, got {sorted(set(rules))}"
            raise InputError(msg)
    key = (site_id, line_id, station_id, characteristic)
    if session.scalar(select(func.count()).where(*_where(key))) == 0:
        msg = f"no measurements of {characteristic!r} at {line_id}/{station_id}"
        raise NotFoundError(msg)
    row = session.get(SpcSettingsRow, key, with_for_update=True)
    before = _settings(session, key)
    after = Settings(
        tuple(sorted(set(rules))) if rules is not None else before.rules,
        now if reset_baseline else before.baseline_from,
    )
    if row is None:
        row = SpcSettingsRow(
            site_id=site_id, line_id=line_id, station_id=station_id, characteristic=characteristic
        )
        session.add(row)
    row.rules = ",".join(str(r) for r in after.rules)
    row.baseline_from, row.changed_by, row.changed_at, row.reason = after.baseline_from, actor, now, reason
    session.flush()
    where = {"line_id": line_id, "station_id": station_id, "characteristic": characteristic}
    setting = f"spc.{line_id}.{station_id}.{characteristic}"
    if rules is not None:
        audit(
            session,
            ConfigChanged(
                setting=f"{setting}.rules"[:200],
                before=json.dumps(list(before.rules)),
                after=json.dumps(where | {"rules": list(after.rules), "reason": reason}),
            ),
            actor=actor,
        )
    if reset_baseline:
        audit(
            session,
            ConfigChanged(
                setting=f"{setting}.baseline_from"[:200],
                before=json.dumps(None if before.baseline_from is None else before.baseline_from.isoformat()),
                after=json.dumps(where | {"baseline_from": now.isoformat(), "reason": reason}),
            ),
            actor=actor,
        )
    return SpcSettingsView(
        **where,
        rules=list(after.rules),
        baseline_from=after.baseline_from,
        changed_by=actor,
        changed_at=now,
        reason=reason,
    )


def update_spc_settings_in_transaction(
    sessions: sessionmaker[Session], *, audit: AuditHook, **change: Any
) -> SpcSettingsView:
    """:func:`update_spc_settings` in its own transaction, at the current time (the route)."""
    with sessions.begin() as session:
        return update_spc_settings(session, audit=audit, now=datetime.now(UTC), **change)
