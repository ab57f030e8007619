"""Separation of duties: combinations of roles one person may not hold.

The Cedar forbids stop the worst combinations at decision time (an IT administrator
never sees evidence, an auditor reads nothing but the audit log). This module stops
them earlier, at grant time, so the directory never even records a toxic combination:
:func:`conflicts` asks the policy what the *combined* grants would allow and reports
every pair of permissions that must not meet in one person.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import UTC, datetime

from lineguard.server.auth.catalog import ACTIONS, Action, Role
from lineguard.server.auth.engine import PolicyEngine, Subject
from lineguard.server.auth.matrix import matrix_target, sample_grant

__all__ = ["EXCLUSIVE_ACTIONS", "TOXIC_PAIRS", "combined_actions", "conflicts"]

#: Permissions that must never be held by the same person, and why.
TOXIC_PAIRS: tuple[tuple[Action, Action, str], ...] = (
    (
        Action.USERS_AND_ROLES_GRANT,
        Action.EVIDENCE_IMAGES_READ,
        "whoever grants roles must not also see evidence images",
    ),
    (
        Action.USERS_AND_ROLES_GRANT,
        Action.FINANCE_PRICING_READ,
        "whoever grants roles must not also see finance and pricing data",
    ),
    (
        Action.USERS_AND_ROLES_GRANT,
        Action.MODEL_DEPLOYMENT_APPROVE,
        "whoever grants roles must not also approve model deployments",
    ),
)

#: Permissions whose holder may hold nothing else (the auditor watches, never acts).
EXCLUSIVE_ACTIONS: tuple[Action, ...] = (Action.AUDIT_LOG_READ,)


def combined_actions(
    engine: PolicyEngine, roles: Iterable[Role], *, now: datetime | None = None
) -> frozenset[Action]:
    """Everything one person holding all of ``roles`` (granted site-wide) may do."""
    now = now or datetime.now(UTC)
    grants = tuple(sample_grant(role, now=now) for role in set(roles))
    subject = Subject("combined", grants, mfa=True)
    return frozenset(a for a in ACTIONS if engine.decide(subject, a, matrix_target(a), now=now).allowed)


@functools.lru_cache(maxsize=64)
def _alone(engine: PolicyEngine, role: Role) -> frozenset[Action]:
    # The policy is immutable once loaded, so what one role permits never changes.
    return combined_actions(engine, [role])


def conflicts(engine: PolicyEngine, roles: Iterable[Role], *, now: datetime | None = None) -> list[str]:
    """One line per separation-of-duties rule the role combination breaks (empty: fine)."""
    roles = set(roles)
    # Judge each role by what it permits alone too: a forbid triggered by one role (an IT
    # administrator sees no evidence) must not hide that another role brings evidence in.
    alone = {role: _alone(engine, role) for role in roles}
    held = set(combined_actions(engine, roles, now=now)).union(*alone.values())
    problems = [f"{a} and {b} in one person: {why}" for a, b, why in TOXIC_PAIRS if a in held and b in held]
    for exclusive in EXCLUSIVE_ACTIONS:
        others = sorted(a.value for a in held if a is not exclusive)
        if exclusive in held and others:
            problems.append(
                f"{exclusive} excludes every other permission, but also held: {', '.join(others)}"
            )
    return problems
