"""Query scoping: which lines of a site a principal may read for an action.

Aggregates are the classic leak: a line-scoped partner who asks for plant-wide yield
must get the yield *of their lines*, never a number that mixes in lines they may not
see. Query services therefore never filter by hand; they ask for a :class:`ReadScope`
and apply it to their ``WHERE`` clause with :meth:`ReadScope.filter`::

    scope = readable_scope(engine, subject, Action.INSPECTION_RESULTS_READ, site=site, now=now)
    stmt = select(...).where(scope.filter(Event.line_id))

The scope is computed by asking the Cedar policy — first about the site as a whole,
then about every line the principal holds a grant on — so it can never be wider than
what the policy permits record by record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, true

from lineguard.contracts.errors import PermissionDeniedError
from lineguard.server.auth.catalog import Action
from lineguard.server.auth.engine import PolicyEngine, Subject, Target

__all__ = ["ReadScope", "readable_scope"]


@dataclass(frozen=True, slots=True)
class ReadScope:
    """The part of one site a principal may read for one action."""

    action: Action
    site: str
    all_lines: bool
    lines: frozenset[str]

    @property
    def empty(self) -> bool:
        return not self.all_lines and not self.lines

    @property
    def line_filter(self) -> frozenset[str] | None:
        """The lines a query is restricted to; ``None`` when every line is readable."""
        return None if self.all_lines else self.lines

    def allows(self, line: str | None) -> bool:
        """Whether a record of ``line`` (``None``: site-level record) is inside the scope."""
        if self.all_lines:
            return True
        return line is not None and line in self.lines

    def filter(self, line_column: ColumnElement[Any]) -> ColumnElement[bool]:
        """A SQL condition restricting ``line_column`` to this scope."""
        if self.all_lines:
            return true()
        if not self.lines:
            return false()
        return line_column.in_(sorted(self.lines))

    def require_any(self) -> ReadScope:
        """Raise :class:`PermissionDeniedError` when nothing at all is readable."""
        if self.empty:
            msg = f"permission denied: {self.action} on no line of site {self.site}"
            raise PermissionDeniedError(msg)
        return self


def readable_scope(
    engine: PolicyEngine, subject: Subject, action: Action, *, site: str, now: datetime
) -> ReadScope:
    """Ask the policy which lines of ``site`` ``subject`` may use ``action`` on."""
    if engine.decide(subject, action, Target.for_action(action, site=site), now=now).allowed:
        return ReadScope(action=action, site=site, all_lines=True, lines=frozenset())
    if action.level == "site":
        return ReadScope(action=action, site=site, all_lines=False, lines=frozenset())
    candidates = {
        line
        for grant in subject.grants
        if grant.site == site and grant.lines is not None and grant.active(now)
        for line in grant.lines
    }
    lines = frozenset(
        line
        for line in candidates
        if engine.decide(subject, action, Target.for_action(action, site=site, line=line), now=now).allowed
    )
    return ReadScope(action=action, site=site, all_lines=False, lines=lines)
