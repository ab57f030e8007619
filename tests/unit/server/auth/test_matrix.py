"""The role × permission matrix: generated from the policy, documented, and bounded.

"No all-powerful role" is checked structurally here, over the matrix the policy
produces, not over a hand-written table.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from lineguard.server.auth.catalog import ACTIONS, CATEGORIES, ROLES, Action, Category, Role
from lineguard.server.auth.engine import PolicyEngine
from lineguard.server.auth.matrix import Matrix, build_matrix, main, render_markdown
from lineguard.server.auth.separation import EXCLUSIVE_ACTIONS, TOXIC_PAIRS, combined_actions, conflicts

DOC = Path(__file__).resolve().parents[4] / "docs" / "permissions.md"
PRIVILEGED = {
    Action.EVIDENCE_IMAGES_READ,
    Action.MODEL_DEPLOYMENT_APPROVE,
    Action.USERS_AND_ROLES_GRANT,
    Action.AUDIT_LOG_READ,
    Action.FINANCE_PRICING_READ,
    Action.NODE_MANAGEMENT_WRITE,
}


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine.load()


@pytest.fixture(scope="module")
def matrix(engine: PolicyEngine) -> Matrix:
    return build_matrix(engine)


def test_docs_permissions_is_generated_from_the_policy(engine: PolicyEngine, matrix: Matrix) -> None:
    expected = render_markdown(matrix, engine.policy_text)
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/permissions.md is stale: run `python -m lineguard.server.auth.matrix docs/permissions.md`"
    )


def test_generator_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "permissions.md"
    assert main([str(out)]) == 0
    assert out.read_text(encoding="utf-8") == DOC.read_text(encoding="utf-8")


def test_every_role_is_denied_at_least_one_category(matrix: Matrix) -> None:
    for role in ROLES:
        denied = [
            c for c in CATEGORIES if not any(matrix.allowed[(role, a)] for a in ACTIONS if a.category is c)
        ]
        assert denied, f"{role} can touch every data category"


def test_no_combination_of_roles_a_person_may_hold_can_do_everything(engine: PolicyEngine) -> None:
    """The union of any single principal's grants is bounded: every combination the
    grant service accepts leaves whole categories out and holds no toxic pair."""
    accepted = 0
    for size in range(1, len(ROLES) + 1):
        for roles in itertools.combinations(ROLES, size):
            if conflicts(engine, roles):
                continue  # refused at grant time (tested in the grant service tests)
            accepted += 1
            held = combined_actions(engine, roles)
            assert held != frozenset(ACTIONS), roles
            assert Category.AUDIT_LOG not in {a.category for a in held} or held == set(EXCLUSIVE_ACTIONS)
            for a, b, why in TOXIC_PAIRS:
                assert not (a in held and b in held), (roles, why)
            assert not ({Action.USERS_AND_ROLES_GRANT, Action.EVIDENCE_IMAGES_READ} <= held)
    assert accepted > len(ROLES)  # sensible combinations remain possible


def test_it_administrator_manages_but_cannot_see(matrix: Matrix) -> None:
    admin = matrix.actions_of(Role.IT_ADMINISTRATOR)
    assert {Action.USERS_AND_ROLES_GRANT, Action.NODE_MANAGEMENT_WRITE} <= admin
    assert Action.EVIDENCE_IMAGES_READ not in admin
    assert not {a for a in admin if a.category is Category.FINANCE_PRICING}
    assert Action.AUDIT_LOG_READ not in admin


def test_auditor_reads_the_audit_log_and_nothing_else(matrix: Matrix) -> None:
    assert matrix.actions_of(Role.AUDITOR) == {Action.AUDIT_LOG_READ}


def test_maintenance_sees_alerts_but_not_evidence(matrix: Matrix) -> None:
    tech = matrix.actions_of(Role.MAINTENANCE_TECHNICIAN)
    assert Action.INSPECTION_RESULTS_READ in tech
    assert Action.EVIDENCE_IMAGES_READ not in tech


def test_partner_holds_only_line_reads(matrix: Matrix) -> None:
    partner = matrix.actions_of(Role.EXTERNAL_PARTNER)
    assert partner
    assert all(a.value.endswith(".read") and a.level == "line" for a in partner)


def test_roles_with_privileged_permissions_require_mfa(matrix: Matrix) -> None:
    for role, info in ROLES.items():
        if matrix.actions_of(role) & PRIVILEGED:
            assert info.mfa_required, role


def test_separation_of_duties_refuses_admin_plus_evidence_role(engine: PolicyEngine) -> None:
    problems = conflicts(engine, [Role.IT_ADMINISTRATOR, Role.QUALITY_ENGINEER])
    assert any("evidence" in p for p in problems)
    assert conflicts(engine, [Role.AUDITOR, Role.MAINTENANCE_TECHNICIAN])
    assert conflicts(engine, [Role.QUALITY_ENGINEER, Role.MAINTENANCE_TECHNICIAN]) == []
