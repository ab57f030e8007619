"""Structured queries and word search over the records one question may read.

Every statement here carries ``scope.condition()`` — the compiled person × workflow ×
line-filter condition of :mod:`.scope` — so nothing outside it is counted, summed,
grouped, matched or opened. Results are ordered deterministically (by source key,
never by a random id), so an answer depends on the permitted records alone. Figures
come from the daily rollups under the same condition whenever a cell can answer them
(:mod:`.totals`); their citations always come from the records.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from lineguard.server.assistant.intents import Dimension, Plan, Topic
from lineguard.server.assistant.scope import EffectiveScope
from lineguard.server.assistant.totals import rollup_groups, rollup_total, rollup_where
from lineguard.server.context import Sealer
from lineguard.server.plantdata import (
    ROLLUP_DIMENSIONS,
    IndexKey,
    PlantRecordLineRow,
    PlantRecordRow,
    PlantRollupRow,
    PlantTermRow,
    RecordBody,
    labels_condition,
    open_records,
    tokens,
)

__all__ = [
    "Group",
    "Matches",
    "Total",
    "aggregate",
    "by_month",
    "entity_filters",
    "grouped",
    "match_entities",
    "name_of",
    "open_rows",
    "search",
]

_DIMENSION_COLUMNS = {
    "party": PlantRecordRow.party_h,
    "part": PlantRecordRow.part_h,
    "asset": PlantRecordRow.asset_h,
    "lot": PlantRecordRow.lot_h,
    "order": PlantRecordRow.order_h,
}
#: Body fields that hold the display value of a dimension.
NAME_FIELDS: dict[str, tuple[str, ...]] = {
    "party": ("customer", "supplier", "party"),
    "part": ("part",),
    "asset": ("machine", "asset"),
    "lot": ("lot",),
    "order": ("order",),
}
#: Words of a question that say *what kind* of thing is asked about, never *which*.
_GENERIC = frozenset(
    """order orders sales customer customers supplier suppliers part parts line lines lot lots machine
    machines value quantity units price prices cost costs defects inspection inspections work production
    produced
    month year top trend compare stock data records record show tell list give""".split()  # noqa: SIM905
)


Matches = dict[str, set[str]]  # dimension -> hashes found among permitted records


def _base(
    scope: EffectiveScope, plan: Plan, topic: Topic | None, matches: Matches
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [scope.condition(), PlantRecordRow.kind == "record"]
    if topic is not None:
        where.append(PlantRecordRow.record_type == topic.record_type)
    if plan.period is not None:
        where += [PlantRecordRow.occurred_at >= plan.period[0], PlantRecordRow.occurred_at < plan.period[1]]
    where += entity_filters(matches)
    return where


def entity_filters(matches: Matches) -> list[ColumnElement[bool]]:
    """One condition per named dimension; a name found nowhere in the scope matches nothing."""
    if "unknown" in matches:
        return [false()]
    return [_DIMENSION_COLUMNS[dim].in_(sorted(hashes)) for dim, hashes in sorted(matches.items()) if hashes]


def match_entities(session: Session, scope: EffectiveScope, key: IndexKey, plan: Plan) -> Matches:
    """Spans of the question that name a part, order, lot, party or asset of a permitted record.

    If the question names something (:attr:`Plan.names`) that no permitted record names,
    the result holds the empty dimension ``"unknown"``: the question is about a thing
    outside the scope (or nowhere), and the answer is "nothing found" — the same either way.

    Parts, parties and assets are looked up in the rollup cells (a part names a quarter of
    a million records at scale; its cells are a few hundred), read through the same
    condition as the records; orders and lots, which name a record or two, in the records
    by one probe per hash that stops at its first permitted record (a ``DISTINCT`` would
    read every record of a common value). Two statements in all. Named things are those
    of structured records (documents are found by word search).
    """
    spans = [s for s in plan.spans if not set(s.split()) <= _GENERIC]
    found: Matches = {}
    covered: set[str] = set()
    if not spans:
        return {"unknown": set()} if plan.names else found
    wanted = {dim: {key.dimension(dim, s): s for s in spans} for dim in _DIMENSION_COLUMNS}
    cells = labels_condition(PlantRollupRow, scope.categories, line_filter=scope.line_filter)
    in_cells = ROLLUP_DIMENSIONS if cells is not None else ()
    present: list[tuple[str, str]] = []
    if cells is not None:
        present += [
            (str(dim), str(h))
            for dim, h in session.execute(
                select(PlantRollupRow.dim, PlantRollupRow.dim_h)
                .where(
                    PlantRollupRow.dim.in_(in_cells),
                    PlantRollupRow.dim_h.in_(sorted({h for d in in_cells for h in wanted[d]})),
                    cells,
                )
                .distinct()
            )
        ]
    probes = [
        select(literal(dim, String), literal(h, String)).where(
            exists().where(column == h, scope.condition(), PlantRecordRow.kind == "record")
        )
        for dim, column in _DIMENSION_COLUMNS.items()
        if dim not in in_cells
        for h in sorted(wanted[dim])
    ]
    present += [(str(d), str(h)) for d, h in session.execute(union_all(*probes))] if probes else []
    for dim, value in present:
        if value not in wanted[dim]:
            continue  # another dimension's hash of the same span
        found.setdefault(dim, set()).add(value)
        covered.update(re.findall(r"[0-9a-z]+(?:-[0-9a-z]+)*", wanted[dim][value]))
    if any(name not in covered for name in plan.names):
        found["unknown"] = set()
    return found


@dataclass(frozen=True)
class Total:
    value: float
    records: int
    cited: list[str]  # record ids, by source key


def _measure_column(plan: Plan) -> ColumnElement[float]:
    return PlantRecordRow.amount if plan.measure == "amount" else PlantRecordRow.quantity  # type: ignore[return-value]


def _cite(session: Session, where: Sequence[ColumnElement[bool]], limit: int) -> list[str]:
    return list(
        session.scalars(
            select(PlantRecordRow.record_id).where(*where).order_by(PlantRecordRow.source_key).limit(limit)
        )
    )


def aggregate(
    session: Session, scope: EffectiveScope, plan: Plan, topic: Topic, matches: Matches, *, cite: int
) -> Total:
    where = _base(scope, plan, topic, matches)
    column = _measure_column(plan)
    cells = rollup_where(scope, plan, topic, matches, group=None)
    if cells is not None:
        figure = rollup_total(session, plan, cells)
        if plan.measure != "count":
            where.append(column.is_not(None))
        return Total(figure.value, figure.records, _cite(session, where, cite) if figure.records else [])
    if plan.operation == "average":
        value_expr = func.avg(column)
        where.append(column.is_not(None))
    elif plan.measure == "count":
        value_expr = func.count()
    else:
        value_expr = func.coalesce(func.sum(column), 0.0)
        where.append(column.is_not(None))
    value, count = session.execute(
        select(value_expr, func.count()).select_from(PlantRecordRow).where(*where)
    ).one()
    return Total(float(value or 0.0), int(count), _cite(session, where, cite))


@dataclass(frozen=True)
class Group:
    key: str  # dimension hash, line id or month
    value: float
    records: int
    cited: list[str]
    sample: str | None = None  # a record id whose body names the group


def _grouped_select(plan: Plan, where: list[ColumnElement[bool]], group_col: Any) -> Select[Any]:
    column = _measure_column(plan)
    value_expr = func.count() if plan.measure == "count" else func.coalesce(func.sum(column), 0.0)
    if plan.measure != "count":
        where = [*where, column.is_not(None)]
    stmt = select(group_col, value_expr, func.count()).select_from(PlantRecordRow)
    return stmt.where(*where, group_col.is_not(None)).group_by(group_col)


def grouped(
    session: Session,
    scope: EffectiveScope,
    plan: Plan,
    topic: Topic,
    matches: Matches,
    *,
    dim: Dimension,
    cite: int,
) -> list[Group]:
    """Top groups by the plan's measure (ties broken by group key), with citations."""
    where = _base(scope, plan, topic, matches)
    limit = plan.top_n if plan.operation == "top" else 50
    cells = rollup_where(scope, plan, topic, matches, group=dim)
    rows: Sequence[Any]
    if dim == "line":
        group_col: Any = PlantRecordLineRow.line_id
        stmt = _grouped_select(plan, where, group_col).join(
            PlantRecordLineRow, PlantRecordLineRow.record_id == PlantRecordRow.record_id
        )
    else:
        group_col = _DIMENSION_COLUMNS[dim]
        stmt = _grouped_select(plan, where, group_col)
    if cells is not None:
        rows = rollup_groups(session, plan, cells, group=dim, limit=limit)
    else:
        value_order = stmt.selected_columns[1].asc() if plan.ascending else stmt.selected_columns[1].desc()
        rows = session.execute(stmt.order_by(value_order, group_col).limit(limit)).all()
    groups = []
    for group_key, value, count in rows:
        member = (
            PlantRecordRow.record_id.in_(
                select(PlantRecordLineRow.record_id).where(PlantRecordLineRow.line_id == group_key)
            )
            if dim == "line"
            else group_col == group_key
        )
        cited = _cite(session, [*where, member], cite)
        groups.append(
            Group(str(group_key), float(value or 0.0), int(count), cited, cited[0] if cited else None)
        )
    return groups


def by_month(
    session: Session, scope: EffectiveScope, plan: Plan, topic: Topic, matches: Matches, *, cite: int
) -> list[Group]:
    where = _base(scope, plan, topic, matches)
    where.append(PlantRecordRow.occurred_at.is_not(None))
    if session.get_bind().dialect.name == "postgresql":
        month: Any = func.to_char(PlantRecordRow.occurred_at, "YYYY-MM")
    else:
        month = func.substr(PlantRecordRow.occurred_at, 1, 7)
    cells = rollup_where(scope, plan, topic, matches, group=None)
    rows: Sequence[Any]
    if cells is not None:
        rows = rollup_groups(session, plan, cells, group="month", limit=36)
    else:
        rows = session.execute(_grouped_select(plan, where, month).order_by(month).limit(36)).all()
    groups = []
    for key_, value, count in rows:
        cited = _cite(session, [*where, month == key_], cite)
        groups.append(Group(str(key_), float(value or 0.0), int(count), cited))
    return groups


def open_rows(
    session: Session, scope: EffectiveScope, record_ids: Sequence[str], *, sealer: Sealer
) -> list[RecordBody]:
    """Open records by id — only those still inside ``scope`` (checked again in the query)."""
    if not record_ids:
        return []
    rows = session.scalars(
        select(PlantRecordRow)
        .where(scope.condition(), PlantRecordRow.record_id.in_(list(record_ids)))
        .order_by(PlantRecordRow.source_key)
    ).all()
    by_id = {b.record_id: b for b in open_records(session, rows, sealer=sealer)}
    return [by_id[r] for r in record_ids if r in by_id]


def name_of(body: RecordBody, dim: Dimension) -> str | None:
    if dim == "line":
        return None
    for name in NAME_FIELDS[dim]:
        value = body.fields.get(name)
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def lookup(
    session: Session, scope: EffectiveScope, plan: Plan, topic: Topic | None, matches: Matches, *, limit: int
) -> list[str]:
    """Ids of permitted records that name what the question names (most recent first).

    Tries the narrowest reading first: records of the question's topic naming *every*
    named thing, then any of them, then the same without the topic.
    """
    base = [scope.condition()]
    if plan.period is not None:
        base += [PlantRecordRow.occurred_at >= plan.period[0], PlantRecordRow.occurred_at < plan.period[1]]
    filters = entity_filters(matches)
    readings = [and_(*filters), or_(*filters)] if len(filters) > 1 else [and_(*filters)]
    topics = [PlantRecordRow.record_type == topic.record_type] if topic is not None else []
    for with_topic in [topics, []] if topics else [[]]:
        for reading in readings:
            ids = list(
                session.scalars(
                    select(PlantRecordRow.record_id)
                    .where(*base, *with_topic, reading)
                    .order_by(PlantRecordRow.occurred_at.desc(), PlantRecordRow.source_key)
                    .limit(limit)
                )
            )
            if ids:
                return ids
    return []


def search(session: Session, scope: EffectiveScope, key: IndexKey, question: str, *, limit: int) -> list[str]:
    """Permitted records ranked by how many distinct words of the question they contain.

    With three words or more a record must hold two of them, so it holds at least one of
    the ``k - 1`` rarest (pigeonhole): only records holding one of those are ranked — a
    word that a third of the plant's records carry (a supplier's name) is not read
    through unless it can decide the answer. The ranking and result are the same.
    """
    words = [w for w in tokens(question) if w not in _GENERIC and not re.fullmatch(r"line-?\d+", w)]
    if not words:
        return []
    hashes = sorted({key.term(w) for w in words})
    need = 1 if len(hashes) <= 2 else 2
    where = [PlantTermRow.term_h.in_(hashes), scope.condition()]
    if need > 1:
        rarest = sorted(hashes, key=lambda h: (_postings(session, h), h))[: len(hashes) - need + 1]
        holder = aliased(PlantTermRow)
        where.append(PlantTermRow.record_id.in_(select(holder.record_id).where(holder.term_h.in_(rarest))))
    hits = func.count().label("hits")
    rows = session.execute(
        select(PlantTermRow.record_id, hits)
        .join(PlantRecordRow, PlantRecordRow.record_id == PlantTermRow.record_id)
        .where(*where)
        .group_by(PlantTermRow.record_id, PlantRecordRow.source_key, PlantRecordRow.kind)
        .having(func.count() >= need)
        .order_by(hits.desc(), PlantRecordRow.kind, PlantRecordRow.source_key)
        .limit(limit)
    ).all()
    return [str(r[0]) for r in rows]


#: Postings counted per word up to this many: enough to tell rare words from common ones.
_POSTINGS_CAP = 5_000


def _postings(session: Session, term_h: str) -> int:
    capped = select(PlantTermRow.record_id).where(PlantTermRow.term_h == term_h).limit(_POSTINGS_CAP)
    return int(session.scalar(select(func.count()).select_from(capped.subquery())) or 0)


def month_label(key: str) -> str:
    try:
        return datetime.strptime(key, "%Y-%m").strftime("%B %Y")  # noqa: DTZ007 - a month label, no instant
    except ValueError:
        return key
