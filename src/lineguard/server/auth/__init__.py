"""Access control of the plant server: who may see and do what.

* **Policy** — Cedar policies (``policy/lineguard.cedar``) over a schema, validated at
  start-up, deny by default (:class:`PolicyEngine`); the role × permission matrix and
  ``docs/permissions.md`` are generated from them (:mod:`~lineguard.server.auth.matrix`).
* **People** — individual accounts, argon2id passwords, TOTP, lockout
  (:mod:`~lineguard.server.auth.accounts`, :mod:`~lineguard.server.auth.login`); role
  grants scoped to a site or lines, time-boxed, with separation of duties
  (:mod:`~lineguard.server.auth.grants`).
* **Credentials** — short-lived browser sessions with CSRF protection and scoped API
  tokens, both stored hashed (:mod:`~lineguard.server.auth.sessions`,
  :mod:`~lineguard.server.auth.api_tokens`).
* **Enforcement** — every route declares :func:`require`, :func:`allow_authenticated`,
  :func:`allow_public` or :func:`allow_node`; query services filter by the caller's
  :class:`ReadScope`; deployments need a second person (:func:`check_approval`).
"""

from __future__ import annotations

from lineguard.server.auth.accounts import (
    change_password,
    create_user,
    disable_user,
    looks_shared,
    reset_password,
    user_by_name,
)
from lineguard.server.auth.approval import check_approval, ensure_four_eyes
from lineguard.server.auth.catalog import ACTIONS, CATEGORIES, ROLES, Action, Category, Role
from lineguard.server.auth.dependencies import (
    Access,
    allow_authenticated,
    allow_node,
    allow_public,
    current_principal,
    declared_routes,
    refuse_undeclared_routes,
    require,
    undeclared_routes,
)
from lineguard.server.auth.engine import Decision, Grant, PolicyEngine, Subject, Target
from lineguard.server.auth.grants import active_grants, describe, grant_role, grant_rows, revoke_role
from lineguard.server.auth.grants import describe as describe_grant
from lineguard.server.auth.lockout import AddressRateLimiter, TooManyAttemptsError, account_key, locked_until
from lineguard.server.auth.login import confirm_person, enroll_without_browser, reset_mfa, unlock_account
from lineguard.server.auth.matrix import Matrix, build_matrix, matrix_target, sample_grant
from lineguard.server.auth.models import RoleGrant, User
from lineguard.server.auth.openapi import document_access_answers
from lineguard.server.auth.principal import Principal
from lineguard.server.auth.routes import DeclaredRoute, walk_routes, without_one_rule
from lineguard.server.auth.runtime import AuthRuntime
from lineguard.server.auth.scoping import ReadScope, readable_scope
from lineguard.server.auth.separation import conflicts

__all__ = [
    "ACTIONS",
    "CATEGORIES",
    "ROLES",
    "Access",
    "Action",
    "AddressRateLimiter",
    "AuthRuntime",
    "Category",
    "Decision",
    "DeclaredRoute",
    "Grant",
    "Matrix",
    "PolicyEngine",
    "Principal",
    "ReadScope",
    "Role",
    "RoleGrant",
    "Subject",
    "Target",
    "TooManyAttemptsError",
    "User",
    "account_key",
    "active_grants",
    "allow_authenticated",
    "allow_node",
    "allow_public",
    "build_matrix",
    "change_password",
    "check_approval",
    "confirm_person",
    "conflicts",
    "create_user",
    "current_principal",
    "declared_routes",
    "describe",
    "describe_grant",
    "disable_user",
    "document_access_answers",
    "enroll_without_browser",
    "ensure_four_eyes",
    "grant_role",
    "grant_rows",
    "locked_until",
    "looks_shared",
    "matrix_target",
    "readable_scope",
    "refuse_undeclared_routes",
    "require",
    "reset_mfa",
    "reset_password",
    "revoke_role",
    "sample_grant",
    "undeclared_routes",
    "unlock_account",
    "user_by_name",
    "walk_routes",
    "without_one_rule",
]
