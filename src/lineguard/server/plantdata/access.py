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

:func:`record_readable` is the same rule for one record in Python; a test holds both
against the Cedar policy decided record by record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, false, not_, or_, select, true
from sqlalchemy.orm import aliased

from lineguard.server.auth import CATEGORIES, Category, Target
from lineguard.server.plantdata.labels import Scope
from lineguard.server.plantdata.models import PlantRecordLineRow, PlantRecordRow

__all__ = ["CategoryScope", "cedar_targets", "readable_condition", "record_readable"]


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


def _touches(lines: frozenset[str]) -> ColumnElement[bool]:
    """The record has a line in ``lines`` (an alias, as in :func:`_outside`)."""
    own = aliased(PlantRecordLineRow)
    return exists(
        select(own.line_id)
        .where(own.record_id == PlantRecordRow.record_id, own.line_id.in_(sorted(lines)))
        .correlate(PlantRecordRow)
    )


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


def _one(scope: CategoryScope, line_filter: frozenset[str] | None) -> ColumnElement[bool]:
    category = PlantRecordRow.category == scope.category.value
    if scope.all_lines:
        if line_filter is None:
            return category
        return and_(category, not_(PlantRecordRow.site_wide), _touches(line_filter))
    if len(scope.lines) <= SUBSET_LINES:
        keys = _subset_keys(scope.lines, line_filter)
        return and_(category, PlantRecordRow.lines_key.in_(keys)) if keys else false()
    inside = and_(category, not_(PlantRecordRow.site_wide), not_(_outside(scope.lines)))
    return inside if line_filter is None else and_(inside, _touches(line_filter))


def readable_condition(
    scopes: Sequence[CategoryScope], *, line_filter: frozenset[str] | None = None
) -> ColumnElement[bool]:
    """A ``WHERE`` clause on ``plant_records``: records inside one of ``scopes``.

    ``line_filter``: the question is about these lines; only records on one of them
    (site-wide records are not about a line) and still inside ``scopes``. No scope, or
    an empty filter: nothing.
    """
    if line_filter is not None and not line_filter:
        return false()
    parts = [_one(s, line_filter) for s in scopes if not s.empty]
    if not parts:
        return false()
    return or_(*parts) if len(parts) > 1 else and_(true(), parts[0])


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
