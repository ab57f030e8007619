"""The policy decision point: Cedar policies, parsed and validated once, asked per request.

At start-up :meth:`PolicyEngine.load` parses the schema and the policies shipped in
``policy/``, validates the policies against the schema and refuses to start (a
:class:`~lineguard.contracts.errors.ConfigError` listing every problem) when anything is
off: an unknown action, a typo in an attribute, a type error. The parsed handles are
kept and reused, which is what makes a decision cost tens of microseconds.

A decision takes a :class:`Subject` (who asks, with the grants active *now*), an
:class:`~lineguard.server.auth.catalog.Action` and a :class:`Target` (the resource's
site and line, and for grants and approvals the people involved). Cedar is deny by
default; a :class:`Decision` carries the ``@id`` of the policies that decided, which the
audit log records as the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import Any, Literal

import cedarpy

from lineguard.contracts.errors import ConfigError, PermissionDeniedError
from lineguard.server.auth.catalog import Action, Role

__all__ = ["Decision", "Grant", "PolicyEngine", "Subject", "Target", "line_scope_id", "site_scope_id"]

_NS = "LineGuard"
#: Cedar Long for "no end": far beyond any real date, within 2**63.
_FOREVER_S = 2**53


def site_scope_id(site: str) -> str:
    return f"site:{site}"


def line_scope_id(site: str, line: str) -> str:
    return f"line:{site}/{line}"


def _ref(kind: str, ident: str) -> dict[str, str]:
    return {"type": f"{_NS}::{kind}", "id": ident}


@dataclass(frozen=True, slots=True)
class Grant:
    """One role held by a user, where (a site, or named lines of it) and until when."""

    role: Role
    site: str
    lines: frozenset[str] | None = None  # None: the whole site
    until: datetime | None = None  # None: until revoked

    def active(self, now: datetime) -> bool:
        return self.until is None or now < self.until

    def scope_ids(self) -> list[str]:
        if self.lines is None:
            return [site_scope_id(self.site)]
        return [line_scope_id(self.site, line) for line in sorted(self.lines)]


@dataclass(frozen=True, slots=True)
class Subject:
    """Who asks: a user id and the grants that count for this request."""

    user_id: str
    grants: tuple[Grant, ...]
    mfa: bool = False
    via_token: bool = False


@dataclass(frozen=True, slots=True)
class Target:
    """The resource acted on, placed in its site and (for line data) its line."""

    site: str
    line: str | None = None
    kind: Literal["data", "role_grant", "deployment"] = "data"
    grantee: str | None = None  # role_grant: who receives the role
    role: str | None = None  # role_grant: which role
    requested_by: str | None = None  # deployment: who asked for it
    ident: str = field(default="resource")

    @classmethod
    def for_action(cls, action: Action, *, site: str, line: str | None = None) -> Target:
        """A generic resource of the type ``action`` applies to, owned by nobody in particular.

        Used to ask "may this principal do ``action`` here at all?" (route guards, scopes,
        the permission matrix); grants and approvals are checked again on the real record.
        """
        if action is Action.USERS_AND_ROLES_GRANT:
            return cls(site=site, line=line, kind="role_grant", grantee="", role="")
        if action is Action.MODEL_DEPLOYMENT_APPROVE:
            return cls(site=site, line=line, kind="deployment", requested_by="")
        return cls(site=site, line=line)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    action: Action
    #: ``@id`` annotations of the policies that decided; empty when nothing permitted.
    reasons: tuple[str, ...]

    @property
    def reason(self) -> str:
        if self.reasons:
            return "; ".join(self.reasons)
        return "no policy permits this (deny by default)"


class PolicyEngine:
    """Parsed, validated Cedar policy; thread-safe (the handles are immutable)."""

    def __init__(self, policy_text: str, schema_text: str) -> None:
        try:
            self._schema = cedarpy.Schema.from_str(schema_text)
        except ValueError as exc:
            msg = "access policy schema does not parse"
            raise ConfigError(msg, details=[str(exc)]) from None
        result = cedarpy.validate_policies(policy_text, self._schema)
        if not result.validation_passed:
            names = result.id_annotations_by_policy_id
            details = [f"{names.get(e.policy_id, e.policy_id)}: {e.error}" for e in result.errors]
            msg = f"access policy fails validation against its schema ({len(details)} problem(s))"
            raise ConfigError(msg, details=details)
        self._policies = cedarpy.PolicySet.from_str(policy_text)
        # The action hierarchy (action -> category group) comes from the schema; it is
        # parsed once here and each request adds only its few entities to it. Without it
        # `action in Action::"<category>"` would never match and the forbids would be void.
        self._actions = cedarpy.Entities.from_json_str("[]", self._schema)
        if "permit" not in policy_text:
            msg = "access policy is empty: it permits nothing"
            raise ConfigError(msg)
        self.policy_text = policy_text
        self.schema_text = schema_text

    @classmethod
    def load(cls) -> PolicyEngine:
        """The policy shipped with LineGuard (``policy/lineguard.cedar``)."""
        folder = resources.files("lineguard.server.auth") / "policy"
        return cls(
            (folder / "lineguard.cedar").read_text(encoding="utf-8"),
            (folder / "lineguard.cedarschema").read_text(encoding="utf-8"),
        )

    def decide(self, subject: Subject, action: Action, target: Target, *, now: datetime) -> Decision:
        entities = self._entities(subject, target, now)
        request = {
            "principal": _ref("User", subject.user_id),
            "action": _ref("Action", action.value),
            "resource": _ref(_resource_type(target), target.ident),
            "context": {"now_s": int(now.timestamp()), "mfa": subject.mfa, "via_token": subject.via_token},
        }
        result = cedarpy.is_authorized(request, self._policies, entities, self._schema)
        if result.diagnostics.errors:
            # An evaluation error means the inputs broke the schema: a bug, never a grant.
            msg = f"policy evaluation failed for {action}: {result.diagnostics.errors}"
            raise ConfigError(msg)
        names = result.diagnostics.id_annotations_by_reason
        reasons = tuple(str(names.get(p, p)) for p in result.diagnostics.reasons)
        return Decision(allowed=result.allowed, action=action, reasons=reasons)

    def check(self, subject: Subject, action: Action, target: Target, *, now: datetime) -> Decision:
        """Like :meth:`decide` but raise :class:`PermissionDeniedError` on a denial."""
        decision = self.decide(subject, action, target, now=now)
        if not decision.allowed:
            where = target.site if target.line is None else f"{target.site}/{target.line}"
            msg = f"permission denied: {action} on {where} ({decision.reason})"
            raise PermissionDeniedError(msg)
        return decision

    def _entities(self, subject: Subject, target: Target, now: datetime) -> cedarpy.Entities:
        scopes: dict[str, str | None] = {}  # scope id -> parent scope id

        def add_scope(site: str, line: str | None) -> str:
            scopes.setdefault(site_scope_id(site), None)
            if line is None:
                return site_scope_id(site)
            scopes.setdefault(line_scope_id(site, line), site_scope_id(site))
            return line_scope_id(site, line)

        grants: dict[str, dict[str, Any]] = {}
        for grant in subject.grants:
            if not grant.active(now):
                continue
            entry = grants.setdefault(grant.role.value, {"scopes": [], "until_s": 0})
            for line in sorted(grant.lines) if grant.lines is not None else [None]:
                entry["scopes"].append({"__entity": _ref("Scope", add_scope(grant.site, line))})
            until_s = _FOREVER_S if grant.until is None else int(grant.until.timestamp())
            entry["until_s"] = max(entry["until_s"], until_s)
        resource_attrs: dict[str, Any] = {}
        if target.kind == "role_grant":
            resource_attrs = {
                "grantee": {"__entity": _ref("User", target.grantee or "")},
                "role": target.role or "",
            }
        elif target.kind == "deployment":
            resource_attrs = {"requested_by": {"__entity": _ref("User", target.requested_by or "")}}
        documents: list[dict[str, Any]] = [
            {"uid": _ref("User", subject.user_id), "attrs": {"grants": grants}, "parents": []},
            {
                "uid": _ref(_resource_type(target), target.ident),
                "attrs": resource_attrs,
                "parents": [_ref("Scope", add_scope(target.site, target.line))],
            },
        ]
        documents += [
            {
                "uid": _ref("Scope", sid),
                "attrs": {},
                "parents": [] if parent is None else [_ref("Scope", parent)],
            }
            for sid, parent in scopes.items()
        ]
        return self._actions.with_added_json_str(json.dumps(documents))


def _resource_type(target: Target) -> str:
    return {"data": "Data", "role_grant": "RoleGrant", "deployment": "Deployment"}[target.kind]
