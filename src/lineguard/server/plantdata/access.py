"""The read filter of plant data: which records a reader may see, as one SQL condition.

The assistant (and any other reader) decides *before retrieving anything* what may be
retrieved: per category a :class:`CategoryScope` — the lines of the site the reader's
grants reach for ``<category>.read``, from the Cedar policy through
:func:`lineguard.server.auth.readable_scope` — intersected with what the workflow allows
and the line filter of the question. :func:`readable_condition` compiles those into a
``WHERE`` clause with the scope semantics of :mod:`.labels`:

* a category granted site-wide: every record of it;
* granted on lines L: records that are not site-wide and whose every line is in L;
* a line filter F (the question is about lines F): of those, records on a line of F.

The condition reads only a row's **label columns** — ``category``, ``site_wide`` and
``lines_key`` — so it applies unchanged to any table that carries them: the records
themselves and their daily rollups (:mod:`.rollups`, whose every row holds records of
exactly one category and one set of lines). Only a grant of more than
:data:`SUBSET_LINES` lines needs the record's own lines (a correlated subquery on
``plant_record_lines``); :func:`labels_condition` says so by answering ``None``, and
readers then use the records.

:func:`record_readable` is the same rule for one record in Python; a test holds both
against the Cedar policy decided record by record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, literal, not_, or_, select, true
from sqlalchemy.orm import aliased

from lineguard.server.auth import CATEGORIES, Category, Target
from lineguard.server.plantdata.labels import Scope
from lineguard.server.plantdata.models import PlantRecordLineRow, PlantRecordRow

__all__ = ["CategoryScope", "cedar_targets", "labels_condition", "readable_condition", "record_readable"]


@dataclass(frozen=True, slots=True)
class CategoryScope:
    """What may be read of one category: everything (``all_lines``) or records on ``lines``."""

    category: Category
    all_lines: bool
    lines: frozenset[str]

    @property
    def empty(self) -> bool:
        return not self.all_lines and not self.lines


def cedar_targets(site: str, category: Category, scope: Scope) -> list[Target]:
    """The Cedar resources a record stands for: all must be readable for the record to be.

    A record of a site-level category (finance, vendor terms, customer orders) belongs to
    the whole site whatever lines it names; a line-level record on lines L is one
    resource per line; a site-wide record is the site.
    """
    if CATEGORIES[category].level == "site" or scope.lines is None:
        return [Target(site=site)]
    return [Target(site=site, line=line) for line in sorted(scope.lines)]


def _outside(lines: frozenset[str]) -> ColumnElement[bool]:
    """The record has a line outside ``lines``.

    The subquery reads its own alias of ``plant_record_lines`` and correlates only to
    ``plant_records``, so it stays correct inside a query that joins the lines table.
    """
    own = aliased(PlantRecordLineRow)
    return exists(
        select(own.line_id)
        .where(own.record_id == PlantRecordRow.record_id, own.line_id.not_in(sorted(lines)))
        .correlate(PlantRecordRow)
    )


def _touches(table: Any, lines: frozenset[str]) -> ColumnElement[bool]:
    """The row's lines include one of ``lines``: ``|<lines_key>|`` contains ``|<line>|``."""
    framed = literal("|") + table.lines_key + literal("|")
    return or_(*(framed.like(f"%|{_escaped(line)}|%", escape="\\") for line in sorted(lines)))


def _escaped(line: str) -> str:
    return line.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


#: Up to this many granted lines, "every line of the record is granted" is tested as
#: ``lines_key IN (every non-empty subset)`` (≤ 255 keys, on an index); beyond it, as
#: "no line outside the grant" (a correlated ``NOT EXISTS``).
SUBSET_LINES = 8


def _subset_keys(lines: frozenset[str], touching: frozenset[str] | None) -> list[str]:
    ordered = sorted(lines)
    keys = []
    for mask in range(1, 1 << len(ordered)):
        subset = [line for i, line in enumerate(ordered) if mask >> i & 1]
        if touching is None or touching.intersection(subset):
            keys.append("|".join(subset))
    return keys


def _one(table: Any, scope: CategoryScope, line_filter: frozenset[str] | None) -> ColumnElement[bool] | None:
    category = table.category == scope.category.value
    if scope.all_lines:
        if line_filter is None:
            return category  # type: ignore[no-any-return]
        return and_(category, not_(table.site_wide), _touches(table, line_filter))
    if len(scope.lines) <= SUBSET_LINES:
        keys = _subset_keys(scope.lines, line_filter)
        return and_(category, table.lines_key.in_(keys)) if keys else false()
    if table is not PlantRecordRow:
        return None  # "no line outside the grant" needs the record's own lines
    inside = and_(category, not_(table.site_wide), not_(_outside(scope.lines)))
    return inside if line_filter is None else and_(inside, _touches(table, line_filter))


def labels_condition(
    table: Any, scopes: Sequence[CategoryScope], *, line_filter: frozenset[str] | None = None
) -> ColumnElement[bool] | None:
    """:func:`readable_condition` on another table with the label columns (``category``,
    ``site_wide``, ``lines_key``), e.g. the rollups; ``None`` when a grant of more than
    :data:`SUBSET_LINES` lines makes it need the records' own lines."""
    if line_filter is not None and not line_filter:
        return false()
    parts = [_one(table, s, line_filter) for s in scopes if not s.empty]
    if any(p is None for p in parts):
        return None
    conditions = [p for p in parts if p is not None]
    if not conditions:
        return false()
    return or_(*conditions) if len(conditions) > 1 else and_(true(), conditions[0])


def readable_condition(
    scopes: Sequence[CategoryScope], *, line_filter: frozenset[str] | None = None
) -> ColumnElement[bool]:
    """A ``WHERE`` clause on ``plant_records``: records inside one of ``scopes``.

    ``line_filter``: the question is about these lines; only records on one of them
    (site-wide records are not about a line) and still inside ``scopes``. No scope, or
    an empty filter: nothing.
    """
    condition = labels_condition(PlantRecordRow, scopes, line_filter=line_filter)
    assert condition is not None  # noqa: S101 - every form exists on the records table
    return condition


def record_readable(
    scopes: Sequence[CategoryScope], category: str, scope: Scope, *, line_filter: frozenset[str] | None = None
) -> bool:
    """:func:`readable_condition` for one record, in Python."""
    if line_filter is not None and (scope.lines is None or not scope.lines & line_filter):
        return False
    for s in scopes:
        if s.empty or s.category.value != category:
            continue
        if s.all_lines or (scope.lines is not None and scope.lines <= s.lines):
            return True
    return False
