"""Authorization before retrieval: what one question may draw on, decided before any query.

:func:`effective_scope` intersects three things, and fails closed on anything unknown:

1. the **workflow** (``server.yaml`` ``assistant.workflows``): it must exist and be
   granted to the person (they hold one of its roles, actively); its categories are
   the most it may ever read;
2. the **person's grants**, per category of the workflow: the lines of the site the
   Cedar policy lets them ``<category>.read`` (:func:`lineguard.server.auth.readable_scope`
   through :meth:`Principal.scope`, so an API token's own limits apply too);
3. the **line filter** of the question, if any.

The result, an :class:`EffectiveScope`, compiles into the one SQL condition every query
of the answer carries (:func:`lineguard.server.plantdata.readable_condition`), and
describes itself for the answer's scope statement. It never says anything about
records outside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement

from lineguard.config.assistant import AssistantConfig, WorkflowConfig
from lineguard.contracts.errors import PermissionDeniedError
from lineguard.server.auth import Category, PolicyEngine, Principal
from lineguard.server.plantdata import CategoryScope, Scope, read_action, readable_condition, record_readable

__all__ = ["EffectiveScope", "effective_scope", "workflow_named", "workflows_for"]

_TITLES = {
    Category.PRODUCTION_DATA: "production",
    Category.QUALITY_DATA: "quality",
    Category.MAINTENANCE_DATA: "maintenance",
    Category.CUSTOMER_ORDERS: "customer-order",
    Category.VENDOR_TERMS: "vendor-terms",
    Category.FINANCE_PRICING: "finance and pricing",
}


def workflow_named(config: AssistantConfig, name: str) -> WorkflowConfig:
    for workflow in config.workflows:
        if workflow.name == name:
            return workflow
    known = ", ".join(w.name for w in config.workflows)
    msg = f"no assistant workflow named {name[:48]!r}: expected one of {known}"
    raise PermissionDeniedError(msg)


def _holds_role(principal: Principal, workflow: WorkflowConfig, now: datetime) -> bool:
    return any(g.role.value in workflow.roles and g.active(now) for g in principal.subject.grants)


def workflows_for(config: AssistantConfig, principal: Principal, now: datetime) -> list[WorkflowConfig]:
    """The workflows this person may use (the Ask page's picker)."""
    return [w for w in config.workflows if _holds_role(principal, w, now)]


@dataclass(frozen=True, slots=True)
class EffectiveScope:
    """Per category, what one question of one person in one workflow may read."""

    workflow: WorkflowConfig
    categories: tuple[CategoryScope, ...]
    line_filter: frozenset[str] | None = None

    @property
    def empty(self) -> bool:
        return all(c.empty for c in self.categories) or (
            self.line_filter is not None and not self.line_filter
        )

    def allows(self, category: Category) -> bool:
        return any(c.category is category and not c.empty for c in self.categories)

    def condition(self) -> ColumnElement[bool]:
        return readable_condition(self.categories, line_filter=self.line_filter)

    def readable(self, category: str, scope: Scope) -> bool:
        return record_readable(self.categories, category, scope, line_filter=self.line_filter)

    def describe(self) -> str:
        """``From production data (all lines) and quality data (line-1), production assistant.``"""
        parts = []
        for c in self.categories:
            if c.empty:
                continue
            if self.line_filter is not None:
                where = ", ".join(sorted(self.line_filter if c.all_lines else c.lines & self.line_filter))
            else:
                where = "all lines and the site" if c.all_lines else ", ".join(sorted(c.lines))
            parts.append(f"{_TITLES[c.category]} data ({where})")
        if not parts or self.empty:
            return f"Scope: nothing you may read in the {self.workflow.title} workflow."
        joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        return f"Scope: {joined}, {self.workflow.title} workflow."


def effective_scope(
    engine: PolicyEngine,
    principal: Principal,
    workflow: WorkflowConfig,
    *,
    site: str,
    now: datetime,
    line_filter: frozenset[str] | None = None,
) -> EffectiveScope:
    """The person's grants ∩ the workflow's categories ∩ the line filter (module docstring).

    :class:`PermissionDeniedError` when the workflow is not granted to the person.
    """
    if not _holds_role(principal, workflow, now):
        msg = f"the {workflow.name} workflow is not granted to you (it is for: {', '.join(workflow.roles)})"
        raise PermissionDeniedError(msg)
    scopes = []
    for name in workflow.categories:
        category = Category(name)
        rs = principal.scope(engine, read_action(category), site=site, now=now)
        lines = rs.lines if line_filter is None or rs.all_lines else rs.lines & line_filter
        scopes.append(CategoryScope(category, rs.all_lines, frozenset(lines)))
    return EffectiveScope(workflow, tuple(scopes), line_filter)
