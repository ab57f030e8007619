"""Doctor checks of the access group: roles, MFA, accounts, partners, owners, duties."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from lineguard.server.auth import ACTIONS, ROLES, PolicyEngine, Role, build_matrix, conflicts, looks_shared
from lineguard.server.governance.checklist import DoctorInputs, Status, age_days, check
from lineguard.server.governance.state import AccountState, PlantState

__all__ = ["OWNER_ROLES", "dormant_accounts", "owner_problems", "policy_engine"]

Result = tuple[Status, str, str | None]

#: The role each named owner needs to carry the duty.
OWNER_ROLES: dict[str, Role | None] = {
    "audit_log_reviewer": Role.AUDITOR,
    "security_owner": Role.IT_ADMINISTRATOR,
    "data_protection_contact": None,
}


@cache
def policy_engine() -> PolicyEngine:
    return PolicyEngine.load()


@check("access.roles_defined", "access", "Roles defined by the policy")
def roles_defined(i: DoctorInputs) -> Result:
    matrix = build_matrix(policy_engine(), now=i.state.now)
    empty = [r.value for r in ROLES if not matrix.actions_of(r)]
    if empty:
        return (
            "fail",
            f"roles without any permission in the policy: {', '.join(empty)}",
            "fix lineguard.cedar",
        )
    return (
        "pass",
        f"{len(ROLES)} roles over {len(ACTIONS)} permissions, deny by default (Cedar policy)",
        None,
    )


@check("access.mfa", "access", "MFA on every role that needs it")
def mfa(i: DoctorInputs) -> Result:
    missing = [a.username for a in i.state.active_accounts if a.needs_mfa and not a.mfa]
    if missing:
        return (
            "fail",
            f"holding a role that requires MFA, without TOTP enrolled: {', '.join(missing)}",
            "each person signs in and enrolls TOTP (the server asks before anything else)",
        )
    count = sum(1 for a in i.state.active_accounts if a.needs_mfa)
    return ("pass", f"{count} accounts hold MFA-required roles; all have TOTP enrolled", None)


@check("access.shared_accounts", "access", "No shared accounts")
def shared_accounts(i: DoctorInputs) -> Result:
    shared = [a.username for a in i.state.active_accounts if looks_shared(a.username)]
    if shared:
        return (
            "fail",
            f"accounts named after a function, not a person: {', '.join(shared)}",
            "create one account per person (lineguard user add), then lineguard user disable <name>",
        )
    return ("pass", f"{len(i.state.active_accounts)} enabled accounts, each named after a person", None)


def dormant_accounts(state: PlantState) -> list[AccountState]:
    """Enabled accounts with roles and no sign-in for ``governance.dormant_after_days``."""
    limit = state.settings.governance.dormant_after_days
    return [
        a
        for a in state.active_accounts
        if a.grants and age_days(state.now, a.last_login_at or a.created_at) > limit
    ]


@check("access.dormant_accounts", "access", "No dormant accounts")
def dormant(i: DoctorInputs) -> Result:
    limit = i.state.settings.governance.dormant_after_days
    found = dormant_accounts(i.state)
    if found:
        names = ", ".join(a.username for a in found)
        return (
            "fail",
            f"no sign-in for more than {limit} days: {names}",
            "lineguard access-review start --config server.yaml, then revoke or disable each",
        )
    return ("pass", f"every enabled account with a role signed in within {limit} days", None)


@check("access.partners_time_boxed", "access", "Partners time-boxed")
def partners(i: DoctorInputs) -> Result:
    warn_days = i.state.settings.governance.partner_expiry_warning_days
    soon, open_ended, count = [], [], 0
    for account in i.state.active_accounts:
        for grant in account.grants:
            if grant.role is not Role.EXTERNAL_PARTNER:
                continue
            count += 1
            if grant.valid_until is None:
                open_ended.append(account.username)
            elif grant.valid_until - i.state.now < timedelta(days=warn_days):
                soon.append(f"{account.username} ({grant.valid_until:%Y-%m-%d})")
    if open_ended:
        return (
            "fail",
            f"partner grants without an end date: {', '.join(open_ended)}",
            "lineguard user revoke",
        )
    if soon:
        return (
            "warn",
            f"partner grants ending within {warn_days} days: {', '.join(soon)}",
            "renew with lineguard user grant ... --until, or let them end",
        )
    return ("pass", f"{count} partner grants, each with an end date", None)


def owner_problems(state: PlantState) -> list[str]:
    problems = []
    owners = state.settings.governance.owners
    for duty, role in OWNER_ROLES.items():
        owner = getattr(owners, duty)
        if owner is None:
            problems.append(f"governance.owners.{duty} is not set")
            continue
        account = state.account(owner.username)
        if account is None or account.disabled:
            problems.append(f"{duty}: no enabled account {owner.username!r}")
        elif role is not None and role not in account.roles:
            problems.append(f"{duty}: {owner.username} does not hold the {role.value} role")
    return problems


@check("access.owners_named", "access", "Owners named")
def owners_named(i: DoctorInputs) -> Result:
    problems = owner_problems(i.state)
    if problems:
        return (
            "fail",
            "; ".join(problems),
            "name each owner's account under governance.owners in server.yaml (see docs/governance.md)",
        )
    owners = i.state.settings.governance.owners
    named = [f"{d}: {getattr(owners, d).username}" for d in OWNER_ROLES]
    return ("pass", "; ".join(named), None)


@check("access.separation_of_duties", "access", "Separation of duties")
def separation(i: DoctorInputs) -> Result:
    breaches = []
    for account in i.state.active_accounts:
        for problem in conflicts(policy_engine(), account.roles, now=i.state.now):
            breaches.append(f"{account.username}: {problem}")
    if breaches:
        return ("fail", "; ".join(breaches), "lineguard user revoke <grant id> (ids in lineguard user list)")
    return ("pass", "no account holds a combination of roles the separation rules forbid", None)
