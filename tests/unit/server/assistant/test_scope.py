"""The effective scope: person × workflow × line filter, decided by the Cedar policy, fail closed."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from lineguard.config.assistant import AssistantConfig, WorkflowConfig
from lineguard.contracts.errors import PermissionDeniedError
from lineguard.server.assistant import EffectiveScope, effective_scope, workflow_named, workflows_for
from lineguard.server.auth import Category, PolicyEngine
from tests.support.leak_run import NOW
from tests.support.plant import PROFILES, SITE, principal

PEOPLE = {p.name: principal(p, now=NOW) for p in PROFILES}
CONFIG = AssistantConfig()


def scope_of(who: str, workflow: str, line_filter: frozenset[str] | None = None) -> EffectiveScope:
    flow = workflow_named(CONFIG, workflow)
    return effective_scope(
        PolicyEngine.load(), PEOPLE[who], flow, site=SITE, now=NOW, line_filter=line_filter
    )


def test_the_scope_is_the_intersection_of_grants_workflow_and_line_filter() -> None:
    qe = scope_of("qe-line1", "production_assistant")
    assert qe.allows(Category.QUALITY_DATA) and qe.allows(Category.PRODUCTION_DATA)
    assert not qe.allows(Category.MAINTENANCE_DATA)  # in the workflow, not in the person's grants
    assert {c.category: c.lines for c in qe.categories if not c.empty} == {
        Category.PRODUCTION_DATA: frozenset({"line-1"}), Category.QUALITY_DATA: frozenset({"line-1"})
    }  # fmt: skip
    assert scope_of("qe-line1", "production_assistant", frozenset({"line-2"})).empty
    fc = scope_of("fc-site", "sales_update")
    assert fc.allows(Category.CUSTOMER_ORDERS) and not fc.allows(Category.VENDOR_TERMS)  # no vendor costing
    assert fc.describe() == (
        "Scope: customer-order data (all lines and the site) and production data (all lines and the site), "
        "Sales update (orders, no vendor costing) workflow."
    )


def test_unknown_or_ungranted_workflows_are_refused() -> None:
    with pytest.raises(PermissionDeniedError, match="no assistant workflow named 'hr'"):
        workflow_named(CONFIG, "hr")
    with pytest.raises(PermissionDeniedError, match="not granted to you"):
        scope_of("partner-line1", "production_assistant")
    assert [w.name for w in workflows_for(CONFIG, PEOPLE["auditor"], NOW)] == []
    assert [w.name for w in workflows_for(CONFIG, PEOPLE["partner-line1"], NOW)] == ["quality_assistant"]


def test_an_expired_grant_counts_for_nothing() -> None:
    person = PEOPLE["ps-site"]
    grant = replace(person.subject.grants[0], until=NOW - timedelta(seconds=1))
    expired = replace(person, subject=replace(person.subject, grants=(grant,)))
    with pytest.raises(PermissionDeniedError, match="not granted"):
        effective_scope(
            PolicyEngine.load(), expired, workflow_named(CONFIG, "production_assistant"), site=SITE, now=NOW
        )


def test_workflow_config_is_checked() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        WorkflowConfig(
            name="x_flow", title="X", categories=("quality_data", "quality_data"), roles=("auditor",)
        )
    with pytest.raises(ValueError, match="names repeat"):
        AssistantConfig(workflows=(CONFIG.workflows[0], CONFIG.workflows[0]))
