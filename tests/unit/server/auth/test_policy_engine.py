"""The Cedar policy is parsed and validated at start-up; a broken policy stops the server."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from lineguard.contracts.errors import ConfigError, PermissionDeniedError
from lineguard.server.auth.catalog import ACTIONS, ROLES, Action, Role
from lineguard.server.auth.engine import Grant, PolicyEngine, Subject, Target

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine.load()


def qe(site: str = "plant", lines: frozenset[str] | None = None, *, user: str = "u-qe") -> Subject:
    return Subject(user, (Grant(Role.QUALITY_ENGINEER, site, lines),), mfa=True)


def test_schema_names_exactly_the_catalog(engine: PolicyEngine) -> None:
    declared = set(re.findall(r'"([a-z_]+\.[a-z]+)"', engine.schema_text))
    assert declared == {a.value for a in ACTIONS}
    roles = set(re.findall(r"^\s+([a-z_]+)\?: RoleScope", engine.schema_text, flags=re.M))
    assert roles == {r.value for r in ROLES}


def test_unknown_action_in_policy_refuses_to_start(engine: PolicyEngine) -> None:
    broken = (
        engine.policy_text + '\npermit (principal, action == LineGuard::Action::"evidence.delete", resource);'
    )
    with pytest.raises(ConfigError, match="fails validation") as info:
        PolicyEngine(broken, engine.schema_text)
    assert any("evidence.delete" in line for line in info.value.details)


def test_type_error_in_policy_names_the_policy(engine: PolicyEngine) -> None:
    broken = engine.policy_text + (
        '\n@id("typo") permit (principal, action, resource) when { principal.grants.wizard.until_s > 0 };'
    )
    with pytest.raises(ConfigError) as info:
        PolicyEngine(broken, engine.schema_text)
    assert any(line.startswith("typo:") for line in info.value.details)


def test_unparseable_schema_refuses_to_start(engine: PolicyEngine) -> None:
    with pytest.raises(ConfigError, match="schema does not parse"):
        PolicyEngine(engine.policy_text, "namespace LineGuard { entity ")


def test_policy_without_permits_is_an_error_not_a_pass(engine: PolicyEngine) -> None:
    with pytest.raises(ConfigError, match="empty"):
        PolicyEngine("// nothing\n", engine.schema_text)


def test_decision_names_the_policy_as_reason(engine: PolicyEngine) -> None:
    decision = engine.decide(qe(), Action.EVIDENCE_IMAGES_READ, Target("plant", "line-1"), now=NOW)
    assert decision.allowed
    assert decision.reasons[0].startswith("quality_engineer:")


def test_deny_by_default_has_a_reason(engine: PolicyEngine) -> None:
    nobody = Subject("u-none", (), mfa=True)
    decision = engine.decide(nobody, Action.INSPECTION_RESULTS_READ, Target("plant", "line-1"), now=NOW)
    assert not decision.allowed
    assert "deny by default" in decision.reason
    with pytest.raises(PermissionDeniedError, match=r"inspection_results.read on plant/line-1"):
        engine.check(nobody, Action.INSPECTION_RESULTS_READ, Target("plant", "line-1"), now=NOW)


def test_grant_reaches_only_its_site_and_lines(engine: PolicyEngine) -> None:
    line_qe = qe(lines=frozenset({"line-1"}))
    read = Action.INSPECTION_RESULTS_READ
    assert engine.decide(line_qe, read, Target("plant", "line-1"), now=NOW).allowed
    assert not engine.decide(line_qe, read, Target("plant", "line-2"), now=NOW).allowed
    assert not engine.decide(line_qe, read, Target("plant"), now=NOW).allowed  # site-wide data
    assert not engine.decide(qe(site="other"), read, Target("plant", "line-1"), now=NOW).allowed


def test_expired_grant_counts_for_nothing(engine: PolicyEngine) -> None:
    grant = Grant(Role.EXTERNAL_PARTNER, "plant", frozenset({"line-1"}), until=NOW - timedelta(seconds=1))
    partner = Subject("u-p", (grant,), mfa=True)
    assert not engine.decide(
        partner, Action.INSPECTION_RESULTS_READ, Target("plant", "line-1"), now=NOW
    ).allowed
    live = Subject("u-p", (Grant(grant.role, grant.site, grant.lines, NOW + timedelta(days=1)),), mfa=True)
    assert engine.decide(live, Action.INSPECTION_RESULTS_READ, Target("plant", "line-1"), now=NOW).allowed


def test_privileged_action_needs_mfa_session(engine: PolicyEngine) -> None:
    no_mfa = Subject("u-qe", qe().grants, mfa=False)
    assert not engine.decide(no_mfa, Action.EVIDENCE_IMAGES_READ, Target("plant", "line-1"), now=NOW).allowed
    assert engine.decide(no_mfa, Action.INSPECTION_RESULTS_READ, Target("plant", "line-1"), now=NOW).allowed


def test_nobody_grants_a_role_to_themselves(engine: PolicyEngine) -> None:
    admin = Subject("u-admin", (Grant(Role.IT_ADMINISTRATOR, "plant"),), mfa=True)
    to_self = Target("plant", kind="role_grant", grantee="u-admin", role="quality_engineer")
    to_other = Target("plant", kind="role_grant", grantee="u-bob", role="quality_engineer")
    denied = engine.decide(admin, Action.USERS_AND_ROLES_GRANT, to_self, now=NOW)
    assert not denied.allowed
    assert any("themselves" in r for r in denied.reasons)
    assert engine.decide(admin, Action.USERS_AND_ROLES_GRANT, to_other, now=NOW).allowed


def test_deployment_needs_a_second_person(engine: PolicyEngine) -> None:
    own = Target("plant", "line-1", kind="deployment", requested_by="u-qe")
    assert not engine.decide(qe(), Action.MODEL_DEPLOYMENT_APPROVE, own, now=NOW).allowed
    assert engine.decide(qe(user="u-qe2"), Action.MODEL_DEPLOYMENT_APPROVE, own, now=NOW).allowed


def test_forbids_hold_even_against_a_permit_everything_policy(engine: PolicyEngine) -> None:
    """The guarantees live in forbids: a careless extra permit cannot undo them."""
    reckless = PolicyEngine(
        engine.policy_text + '\n@id("oops") permit (principal, action, resource);', engine.schema_text
    )
    admin = Subject("u-admin", (Grant(Role.IT_ADMINISTRATOR, "plant"),), mfa=True)
    auditor = Subject("u-aud", (Grant(Role.AUDITOR, "plant"),), mfa=True)
    for action in (Action.EVIDENCE_IMAGES_READ, Action.FINANCE_PRICING_READ, Action.VENDOR_TERMS_READ):
        assert not reckless.decide(admin, action, Target.for_action(action, site="plant"), now=NOW).allowed
    for action in ACTIONS:
        decision = reckless.decide(auditor, action, Target.for_action(action, site="plant"), now=NOW)
        assert decision.allowed == (action is Action.AUDIT_LOG_READ), action
    self_grant = Target("plant", kind="role_grant", grantee="u-admin", role="auditor")
    assert not reckless.decide(admin, Action.USERS_AND_ROLES_GRANT, self_grant, now=NOW).allowed
    own = Target("plant", "line-1", kind="deployment", requested_by="u-qe")
    assert not reckless.decide(qe(), Action.MODEL_DEPLOYMENT_APPROVE, own, now=NOW).allowed
    token = Subject("u-qe", qe().grants, via_token=True)
    assert not reckless.decide(token, Action.EVIDENCE_IMAGES_READ, Target("plant", "line-1"), now=NOW).allowed
