"""Totals, top-N, per-line and per-month figures from the daily rollups.

The figures of :mod:`.queries` (:func:`~.queries.aggregate`, :func:`~.queries.grouped`,
:func:`~.queries.by_month`) are sums over permitted records; whenever the question's
filters are ones a rollup cell can answer, they are read from ``plant_rollups``
instead (:mod:`lineguard.server.plantdata.rollups`): a few hundred cells rather than
hundreds of thousands of records. That is the case when

* the scope compiles onto the label columns alone
  (:func:`~lineguard.server.plantdata.labels_condition` — not for grants of more than
  eight lines),
* the period, if any, is whole UTC days (months and years are),
* at most one named thing filters the figure, and it is a part, a party or an asset —
  the same dimension the figure is grouped by, if it is grouped by one.

The cells are filtered by **the same read condition** as the records (each cell holds
records of exactly one label), so a rollup answer counts exactly the records the
record query would have counted. Anything else returns ``None`` and the caller reads
the records. Citations are always records (:mod:`.queries`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import time
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from lineguard.server.assistant.intents import Dimension, Plan, Topic
from lineguard.server.assistant.scope import EffectiveScope
from lineguard.server.plantdata import ROLLUP_DIMENSIONS, PlantRollupRow, day_of, labels_condition

__all__ = ["Figure", "rollup_groups", "rollup_total", "rollup_where"]

_R = PlantRollupRow


@dataclass(frozen=True)
class Figure:
    key: str  # dimension hash, line id or month ("" for a total)
    value: float
    records: int


def rollup_where(
    scope: EffectiveScope, plan: Plan, topic: Topic, matches: dict[str, set[str]], *, group: Dimension | None
) -> list[ColumnElement[bool]] | None:
    """The conditions on ``plant_rollups`` for this figure, or ``None`` if cells cannot answer it."""
    condition = labels_condition(_R, scope.categories, line_filter=scope.line_filter)
    if condition is None or "unknown" in matches:
        return None
    named = sorted(dim for dim, hashes in matches.items() if hashes)
    if len(named) > 1 or any(dim not in ROLLUP_DIMENSIONS for dim in named):
        return None
    if group not in (None, "line") and named not in ([], [group]):
        return None
    where = [condition, _R.record_type == topic.record_type]
    if plan.period is not None:
        start, end = plan.period
        if any(t.utcoffset() or t.time() != time(0) for t in (start, end)):
            return None  # not whole UTC days: the records answer it
        where += [_R.day >= day_of(start), _R.day < day_of(end)]
    dim = named[0] if named else (group if group not in (None, "line") else "")
    where.append(_R.dim == dim)
    if named:
        where.append(_R.dim_h.in_(sorted(matches[named[0]])))
    return where


def _value_and_count(plan: Plan) -> tuple[Any, Any]:
    if plan.measure == "count":
        return func.sum(_R.records), func.sum(_R.records)
    if plan.measure == "amount":
        return func.sum(_R.amount_sum), func.sum(_R.amount_n)
    return func.sum(_R.quantity_sum), func.sum(_R.quantity_n)


def rollup_total(session: Session, plan: Plan, where: Sequence[ColumnElement[bool]]) -> Figure:
    """A count, sum or average over the cells (records with the measure set, as the record query)."""
    value, count = _value_and_count(plan)
    total, n = session.execute(select(value, count).where(*where)).one()
    total, n = float(total or 0.0), int(n or 0)
    if plan.operation == "average":
        total = total / n if n else 0.0
    return Figure("", total, n)


def rollup_groups(
    session: Session, plan: Plan, where: Sequence[ColumnElement[bool]], *, group: Dimension | str, limit: int
) -> list[tuple[str, float, int]]:
    """(key, value, records) per dimension value, line or month, in the record query's order."""
    value, count = _value_and_count(plan)
    key: Any
    if group == "month":
        key = func.substr(_R.day, 1, 7)
        where = [*where, _R.day.is_not(None)]
    elif group == "line":
        key = _R.lines_key
        where = [*where, _R.lines_key.is_not(None)]
    else:
        key = _R.dim_h
    rows = session.execute(select(key, value, count).where(*where).group_by(key)).all()
    per: dict[str, list[float]] = {}
    for k, v, n in rows:
        if not n:
            continue
        # A record on lines 1 and 2 counts for each of them, as the join on its lines does.
        for part in str(k).split("|") if group == "line" else [str(k)]:
            acc = per.setdefault(part, [0.0, 0])
            acc[0] += float(v or 0.0)
            acc[1] += int(n)
    figures = [(k, v, int(n)) for k, (v, n) in per.items()]
    if group == "month":
        return sorted(figures)[:limit]
    sign = 1 if plan.ascending else -1
    return sorted(figures, key=lambda f: (sign * f[1], f[0]))[:limit]
