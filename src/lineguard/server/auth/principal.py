"""The authenticated caller of one request, and what they may do.

A :class:`Principal` is a person, reached either through their browser session or
through one of their API tokens. A token never widens what its owner may do: a decision
needs the token's own scope (actions, lines) *and* the owner's grants *and* the policy
(which forbids some actions through any token).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from lineguard.server.auth.catalog import Action
from lineguard.server.auth.engine import Decision, PolicyEngine, Subject, Target
from lineguard.server.auth.scoping import ReadScope, readable_scope

__all__ = ["Principal"]


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    username: str
    display_name: str
    subject: Subject
    session_id: str | None = None
    session_state: str = "active"
    token_id: str | None = None
    token_actions: frozenset[Action] | None = None
    token_lines: frozenset[str] | None = None

    @property
    def via_token(self) -> bool:
        return self.token_id is not None

    @property
    def actor(self) -> str:
        """How the audit log names who acted: ``user:<name>`` or ``token:<id>``."""
        return f"user:{self.username}" if self.token_id is None else f"token:{self.token_id}"

    def _token_refuses(self, action: Action, line: str | None) -> str | None:
        if self.token_actions is not None and action not in self.token_actions:
            return f"API token scope excludes {action}"
        if self.token_lines is not None and (line is None or line not in self.token_lines):
            return f"API token scope excludes line {line or '(site-wide)'}"
        return None

    def decide(self, engine: PolicyEngine, action: Action, target: Target, *, now: datetime) -> Decision:
        refusal = self._token_refuses(action, target.line)
        if refusal is not None:
            return Decision(allowed=False, action=action, reasons=(refusal,))
        return engine.decide(self.subject, action, target, now=now)

    def scope(self, engine: PolicyEngine, action: Action, *, site: str, now: datetime) -> ReadScope:
        """Lines of ``site`` this principal may use ``action`` on (token scope included)."""
        scope = readable_scope(engine, self.subject, action, site=site, now=now)
        if self.token_actions is not None and action not in self.token_actions:
            return replace(scope, all_lines=False, lines=frozenset())
        if self.token_lines is not None:
            if action.level == "site":  # a line-bound token never reaches site-wide data
                return replace(scope, all_lines=False, lines=frozenset())
            lines = self.token_lines if scope.all_lines else scope.lines & self.token_lines
            return replace(scope, all_lines=False, lines=frozenset(lines))
        return scope
