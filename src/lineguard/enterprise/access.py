"""Who is calling the roll-up: a person with a role-bearing token, or an enrolled plant.

Every route declares exactly one of :func:`require` (a permission of the roll-up's
roles) or :func:`require_plant` (an enrolled plant's client certificate);
:func:`refuse_undeclared_routes` stops the app from starting otherwise. Refusals are
401 (no or unknown credentials) or 403 (a role without the permission, a plant not
enrolled), never a silent empty answer; a plant's refusals are audited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy.orm import Session, sessionmaker

from lineguard.contracts.audit import EnterpriseAccessDenied, EnterpriseAggregatesRefused
from lineguard.contracts.errors import AuthenticationError, ConfigError, PermissionDeniedError
from lineguard.enterprise.audit import record
from lineguard.enterprise.roles import GRANTS, Permission
from lineguard.enterprise.service import Caller, plant_of_certificate, token_caller
from lineguard.server.pki import certificate_fingerprint
from lineguard.server.tls import client_certificate_pem

__all__ = [
    "PLANT_RULE",
    "DeclaredRoute",
    "PlantCaller",
    "declared_routes",
    "refuse_plant",
    "refuse_undeclared_routes",
    "require",
    "require_plant",
    "sessions_of",
]

_RULE_ATTR = "__enterprise_rule__"
#: The rule :func:`require_plant` declares (the route walk reads it).
PLANT_RULE = "plant"


@dataclass(frozen=True, slots=True)
class PlantCaller:
    plant_id: str
    fingerprint: str


def sessions_of(request: Request) -> sessionmaker[Session]:
    sessions: sessionmaker[Session] = request.app.state.enterprise_sessions
    return sessions


def require(permission: Permission) -> Callable[..., Caller]:
    """A dependency admitting a person whose token's role holds ``permission``."""

    def dependency(request: Request) -> Caller:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            msg = "an enterprise API token is required (Authorization: Bearer …)"
            raise AuthenticationError(msg)
        with sessions_of(request)() as session:
            caller = token_caller(session, token.strip())
        if permission not in GRANTS[caller.role]:
            # Audited for a known token only: an anonymous caller cannot fill the log.
            with sessions_of(request).begin() as session:
                event = EnterpriseAccessDenied(permission=permission.value, role=caller.role.value)
                record(session, event, actor=f"token:{caller.token_id}")
            msg = f"the {caller.role.value} role does not hold {permission.value}"
            raise PermissionDeniedError(msg)
        return caller

    setattr(dependency, _RULE_ATTR, permission.value)
    return dependency


def refuse_plant(sessions: sessionmaker[Session], plant_id: str, reason: str) -> None:
    """Audit a plant's refused request in its own transaction (the request's work rolled back)."""
    with sessions.begin() as session:
        event = EnterpriseAggregatesRefused(plant_id=plant_id[:200] or "unknown", reason=reason[:500])
        record(session, event, actor=f"plant:{plant_id[:64] or 'unknown'}")


def require_plant() -> Callable[..., PlantCaller]:
    """A dependency admitting an enrolled, unrevoked plant by its verified client certificate."""

    def dependency(request: Request) -> PlantCaller:
        sessions = sessions_of(request)
        pem = client_certificate_pem(request.scope)
        if pem is None:
            refuse_plant(sessions, "unknown", "no client certificate")
            msg = "a plant client certificate is required"
            raise AuthenticationError(msg)
        cert = x509.load_pem_x509_certificate(pem.encode())
        fingerprint = certificate_fingerprint(cert)
        with sessions() as session:
            plant = plant_of_certificate(session, fingerprint)
        if plant is None:
            names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
            claimed = str(names[0].value) if names else "unknown"
            refuse_plant(sessions, claimed, f"certificate {fingerprint[:16]}… is not enrolled or was revoked")
            msg = f"certificate sha256 {fingerprint[:16]}… is not enrolled here (or was revoked)"
            raise PermissionDeniedError(msg)
        return PlantCaller(plant_id=plant.plant_id, fingerprint=fingerprint)

    setattr(dependency, _RULE_ATTR, PLANT_RULE)
    return dependency


@dataclass(frozen=True, slots=True)
class DeclaredRoute:
    """One route as a client reaches it (router prefixes applied) and the rules it declared."""

    path: str
    methods: frozenset[str]
    is_api: bool
    rules: tuple[str, ...]


def _rules(dependant: Any) -> tuple[str, ...]:
    found: list[str] = []
    stack = list(dependant.dependencies)
    while stack:
        dep = stack.pop()
        rule: Any = getattr(dep.call, _RULE_ATTR, None)
        if isinstance(rule, str):
            found.append(rule)
        stack.extend(dep.dependencies)
    return tuple(found)


def declared_routes(app: FastAPI) -> list[DeclaredRoute]:
    found = []
    for context in iter_route_contexts(app.routes):
        is_api = isinstance(context.original_route, APIRoute)
        dependant = getattr(context, "dependant", None) if is_api else None
        found.append(
            DeclaredRoute(
                path=str(context.path),
                methods=frozenset(context.methods or ()),
                is_api=dependant is not None,
                rules=_rules(dependant) if dependant is not None else (),
            )
        )
    return found


def refuse_undeclared_routes(app: FastAPI) -> None:
    problems = [
        f"{sorted(r.methods)} {r.path}: declares {len(r.rules)} rules"
        for r in declared_routes(app)
        if r.is_api and len(r.rules) != 1
    ]
    if problems:
        msg = "every roll-up route must declare exactly one of require(...) or require_plant(): " + "; ".join(
            problems
        )
        raise ConfigError(msg)
