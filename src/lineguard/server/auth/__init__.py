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

from lineguard.server.auth.approval import check_approval, ensure_four_eyes
from lineguard.server.auth.catalog import ACTIONS, CATEGORIES, ROLES, Action, Category, Role
from lineguard.server.auth.dependencies import (
    Access,
    allow_authenticated,
    allow_node,
    allow_public,
    declared_routes,
    require,
)
from lineguard.server.auth.engine import Decision, Grant, PolicyEngine, Subject, Target
from lineguard.server.auth.principal import Principal
from lineguard.server.auth.scoping import ReadScope, readable_scope

__all__ = [
    "ACTIONS",
    "CATEGORIES",
    "ROLES",
    "Access",
    "Action",
    "Category",
    "Decision",
    "Grant",
    "PolicyEngine",
    "Principal",
    "ReadScope",
    "Role",
    "Subject",
    "Target",
    "allow_authenticated",
    "allow_node",
    "allow_public",
    "check_approval",
    "declared_routes",
    "ensure_four_eyes",
    "readable_scope",
    "require",
]
