"""Every route declares who may call it; these FastAPI dependencies are the declarations.

Deny by default: a route must carry exactly one access rule, and
``tests/integration/test_permissions_routes.py`` walks ``app.routes`` and fails on any
route without one. The rules:

``require(action)``
    A signed-in person (browser session, or API token) whose grants permit ``action``
    somewhere in the site. The handler receives an :class:`Access` whose ``scope``
    says *where* (all lines, or which lines) — query services filter by it — and whose
    :meth:`Access.check` re-checks one concrete record (its line, its requester…)::

        @router.get("/yield")
        def get_yield(access: Annotated[Access, Depends(require(Action.INSPECTION_RESULTS_READ))]):
            return service.yield_by_line(session, where=access.scope.filter(Event.line_id))

``allow_authenticated(states=...)``
    Any signed-in person, whatever their roles: their own account (sign-out, change
    password, enroll MFA, their tokens).
``allow_public(reason)``
    No credential (sign-in itself, the CA certificate). The reason is documented.
``allow_node()``
    Edge nodes, authenticated by their client certificate (``lineguard.server.nodes``).

Browser sessions travel in the ``__Host-lineguard_session`` cookie (Secure, HttpOnly,
SameSite=Strict, Path=/); unsafe methods (POST, PUT, PATCH, DELETE) must also send the
session's CSRF token in ``X-CSRF-Token``. API tokens travel as ``Authorization: Bearer``.
No credential or a bad one → 401; a credential without the permission → 403, audited.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from lineguard.contracts.audit import (
    AccessDenied,
    AuditEvent,
    AuditReadAccess,
    EvidenceAccessed,
    InspectionRecordsRead,
    PlantDataRead,
)
from lineguard.contracts.errors import AuthenticationError, ConfigError, PermissionDeniedError
from lineguard.server.auth.api_tokens import resolve_token
from lineguard.server.auth.bearer import API_TOKEN_PREFIX, csrf_matches
from lineguard.server.auth.catalog import Action, Category
from lineguard.server.auth.engine import Decision, Subject, Target
from lineguard.server.auth.grants import active_grants
from lineguard.server.auth.principal import Principal
from lineguard.server.auth.routes import DeclaredRoute as Route
from lineguard.server.auth.routes import rules_declared, walk_routes, without_one_rule
from lineguard.server.auth.runtime import AuthRuntime
from lineguard.server.auth.scoping import ReadScope
from lineguard.server.auth.sessions import resolve_session
from lineguard.server.context import ServerContext, get_context, get_session

__all__ = [
    "AUDITED_READS",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "Access",
    "AccessRule",
    "DeclaredRoute",
    "access_rules",
    "allow_authenticated",
    "allow_node",
    "allow_public",
    "current_principal",
    "declared_routes",
    "refuse_undeclared_routes",
    "require",
    "undeclared_routes",
]

SESSION_COOKIE = "__Host-lineguard_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_ACCESS_ATTR = "__lineguard_access__"

#: Reads a route must report with :meth:`Access.record_read` (who read what, when).
AUDITED_READS = frozenset(
    {
        Action.INSPECTION_RESULTS_READ,
        Action.EVIDENCE_IMAGES_READ,
        Action.AUDIT_LOG_READ,
        Action.FINANCE_PRICING_READ,
        Action.VENDOR_TERMS_READ,
        Action.CUSTOMER_ORDERS_READ,
        Action.PRODUCTION_DATA_READ,
        Action.QUALITY_DATA_READ,
        Action.MAINTENANCE_DATA_READ,
    }
)

_STATE_HINTS = {
    "mfa_pending": "finish signing in: enter your authentication code",
    "password_change": "change your one-time password first",
    "mfa_enroll": "your role requires multi-factor authentication: enroll an authenticator app first",
}


@dataclass(frozen=True, slots=True)
class AccessRule:
    """What a route declared: the walk test reads these off ``app.routes``."""

    kind: Literal["permission", "authenticated", "public", "node"]
    action: Action | None = None
    reason: str = ""
    states: frozenset[str] = frozenset({"active"})


def _mark(dependency: Callable[..., Any], rule: AccessRule) -> Callable[..., Any]:
    setattr(dependency, _ACCESS_ATTR, rule)
    dependency.__name__ = f"access_{rule.kind}" + (f"_{rule.action.value}" if rule.action else "")
    return dependency


#: One route of the plant server and the access rules it declared (:mod:`.routes`).
DeclaredRoute = Route[AccessRule]


def declared_routes(app: FastAPI) -> list[DeclaredRoute]:
    """Every route of ``app`` (prefixes of included routers applied) and its access rules.

    Non-API routes (OpenAPI schema, docs, static mounts) carry no rules; the walk test
    lists the few that may exist.
    """
    return walk_routes(app, attr=_ACCESS_ATTR, rule_type=AccessRule)


def undeclared_routes(app: FastAPI) -> list[str]:
    """The API routes of ``app`` that do not declare exactly one access rule, described."""
    return without_one_rule(declared_routes(app), noun="access rules")


def refuse_undeclared_routes(app: FastAPI) -> None:
    """Deny by default at start-up: a route that declares no access rule (or several) is a
    :class:`~lineguard.contracts.errors.ConfigError` and the server does not start, rather
    than serving it to anyone. ``create_app`` calls this once its routes are mounted and
    again when the app starts (a route mounted later is caught there)."""
    problems = undeclared_routes(app)
    if problems:
        msg = (
            "every route must declare exactly one of require(...), allow_authenticated(), "
            "allow_public() or allow_node(); refusing to start: " + "; ".join(problems)
        )
        raise ConfigError(msg)


def access_rules(route: APIRoute | Dependant) -> list[AccessRule]:
    """Every access rule declared on ``route`` (directly or inside its dependencies)."""
    dependant = route.dependant if isinstance(route, APIRoute) else route
    return rules_declared(dependant, attr=_ACCESS_ATTR, rule_type=AccessRule)


def _source(request: Request) -> str | None:
    return request.client.host if request.client else None


def _principal_from_token(session: Session, runtime: AuthRuntime, token: str) -> Principal:
    row, user = resolve_token(session, runtime=runtime, token=token)
    row.last_used_at = runtime.now()
    session.commit()
    grants = active_grants(session, user_id=user.id, now=runtime.now())
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        subject=Subject(user.id, grants, mfa=False, via_token=True),
        token_id=row.id,
        token_actions=frozenset(Action(a) for a in row.actions if a in Action._value2member_map_),
        token_lines=None if row.lines is None else frozenset(row.lines),
    )


def current_principal(
    request: Request, session: Session, *, states: frozenset[str], action: Action | None = None
) -> Principal:
    """Authenticate the request (401), enforce CSRF and the session state (403)."""
    context = get_context(request)
    runtime = context.auth
    authorization = request.headers.get("authorization", "")
    if authorization:
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credential.startswith(API_TOKEN_PREFIX):
            msg = "unsupported Authorization header: expected 'Bearer lgt_…'"
            raise AuthenticationError(msg)
        return _principal_from_token(session, runtime, credential.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        msg = "not signed in"
        raise AuthenticationError(msg)
    row, user = resolve_session(session, runtime=runtime, token=cookie)
    refusal = None
    if request.method not in _SAFE_METHODS and not csrf_matches(cookie, request.headers.get(CSRF_HEADER)):
        refusal = f"CSRF token missing or wrong: send the session's token in {CSRF_HEADER}"
    elif row.state not in states:
        refusal = _STATE_HINTS.get(row.state, f"session state {row.state} cannot use this route")
    if refusal is not None:
        _deny(context, session, request, f"user:{user.username}", action, refusal)
        raise PermissionDeniedError(refusal)
    grants = active_grants(session, user_id=user.id, now=runtime.now())
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        subject=Subject(user.id, grants, mfa=row.mfa),
        session_id=row.id,
        session_state=row.state,
    )


@dataclass
class Access:
    """What ``require(action)`` hands to a route: who, for what, and where."""

    principal: Principal
    action: Action
    scope: ReadScope
    runtime: AuthRuntime
    context: ServerContext
    session: Session
    request: Request

    def check(self, target: Target, *, record: str | None = None) -> Decision:
        """Re-check one concrete resource (its line, grantee, requester); audit and 403 if refused."""
        decision = self.principal.decide(self.runtime.engine, self.action, target, now=self.runtime.now())
        if not decision.allowed:
            where = target.site if target.line is None else f"{target.site}/{target.line}"
            resource = f"{where}:{record}" if record else where
            _deny(
                self.context,
                self.session,
                self.request,
                self.principal.actor,
                self.action,
                decision.reason,
                resource,
            )
            msg = f"permission denied: {self.action} on {where} ({decision.reason})"
            raise PermissionDeniedError(msg)
        return decision

    def check_line(self, line: str | None, *, record: str | None = None) -> Decision:
        return self.check(Target.for_action(self.action, site=self.runtime.site, line=line), record=record)

    def record_read(self, *, records: int = 0, evidence_ref: str | None = None, purpose: str = "") -> None:
        """Write who read what to the audit log (and commit): call once the data is fetched.

        Routes that read inspection records, evidence, plant data or the audit log must
        call it; the route × role test fails for one that does not.
        """
        query = f"{self.request.method} {self.request.url.path}"
        if self.request.url.query:
            query += f"?{self.request.url.query}"
        query = query[:500]
        category = self.action.category
        event: AuditEvent
        if self.action is Action.EVIDENCE_IMAGES_READ:
            event = EvidenceAccessed(
                evidence_ref=evidence_ref or self.request.url.path[-200:], purpose=purpose
            )
        elif self.action is Action.AUDIT_LOG_READ:
            event = AuditReadAccess(query=query, records=records)
        elif category in _PLANT_DOMAINS:
            event = PlantDataRead(domain=_PLANT_DOMAINS[category], query=query, records=records)
        else:
            event = InspectionRecordsRead(query=query, records=records)
        self.context.audit(self.session, event, actor=self.principal.actor)
        self.session.commit()


_PLANT_DOMAINS: dict[Category, Any] = {
    Category.PRODUCTION_DATA: "production",
    Category.QUALITY_DATA: "quality",
    Category.MAINTENANCE_DATA: "maintenance",
    Category.FINANCE_PRICING: "finance_pricing",
    Category.VENDOR_TERMS: "vendor_terms",
    Category.CUSTOMER_ORDERS: "customer_orders",
}


def _deny(
    context: ServerContext,
    session: Session,
    request: Request,
    actor: str,
    action: Action | None,
    reason: str,
    resource: str | None = None,
) -> None:
    """Record a refusal in its own transaction (whatever the request did is rolled back)."""
    session.rollback()
    event = AccessDenied(
        action="-" if action is None else action.value,
        resource=(resource or f"{request.method} {request.url.path}")[:500],
        reason=reason[:500],
        source_ip=_source(request),
    )
    context.audit(session, event, actor=actor)
    session.commit()


def require(action: Action) -> Callable[..., Access]:
    """The dependency for a route that needs ``action`` (see the module docstring)."""
    action = Action(action)

    def dependency(request: Request, session: Session = Depends(get_session)) -> Access:  # noqa: B008
        context = get_context(request)
        runtime = context.auth
        principal = current_principal(request, session, states=frozenset({"active"}), action=action)
        now = runtime.now()
        scope = principal.scope(runtime.engine, action, site=runtime.site, now=now)
        if scope.empty:
            probe = principal.decide(
                runtime.engine, action, Target.for_action(action, site=runtime.site), now=now
            )
            _deny(context, session, request, principal.actor, action, probe.reason)
            msg = f"permission denied: your roles do not include {action}"
            raise PermissionDeniedError(msg)
        return Access(principal, action, scope, runtime, context, session, request)

    return _mark(dependency, AccessRule("permission", action=action))


def allow_authenticated(*, states: frozenset[str] = frozenset({"active"})) -> Callable[..., Principal]:
    """Any signed-in person (in one of ``states``), acting on their own account."""

    def dependency(request: Request, session: Session = Depends(get_session)) -> Principal:  # noqa: B008
        return current_principal(request, session, states=states)

    return _mark(dependency, AccessRule("authenticated", states=states))


def allow_public(reason: str) -> Callable[[], None]:
    """No credential needed; ``reason`` says why that is safe (it is documented)."""
    if not reason.strip():
        msg = "a public route must say why it is public"
        raise ValueError(msg)

    def dependency() -> None:
        return None

    return _mark(dependency, AccessRule("public", reason=reason))


def allow_node() -> Callable[[], Awaitable[None]]:
    """Edge-node routes: the node's client certificate is checked by ``lineguard.server.nodes``."""

    async def dependency() -> None:  # async: FastAPI would run a plain def in a worker thread
        return None

    return _mark(dependency, AccessRule("node", reason="mutual TLS client certificate"))
