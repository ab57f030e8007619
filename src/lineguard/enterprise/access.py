"""Who is calling the roll-up: a person with a role-bearing token, or an enrolled plant.

Every route declares exactly one of :func:`require` (a permission of the roll-up's
roles) or :func:`require_plant` (an enrolled plant's client certificate);
:func:`refuse_undeclared_routes` stops the app from starting otherwise. Refusals are
401 (no, unknown or expired credentials), 429 (an address over its failed-check
limit, :func:`auth_limiter`) or 403 (a role without the permission, a plant not
enrolled), never a silent empty answer; a plant's refusals are audited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from cryptography import x509
from fastapi import FastAPI, Request
from sqlalchemy import Table
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.enterprise import EnterpriseServiceConfig
from lineguard.contracts.audit import (
    EnterpriseAccessDenied,
    EnterpriseAggregatesRefused,
    EnterpriseAuthBlocked,
    EnterpriseTokenRefused,
)
from lineguard.contracts.errors import AuthenticationError, ConfigError, PermissionDeniedError
from lineguard.enterprise.audit import record
from lineguard.enterprise.models import AuthFailureRow
from lineguard.enterprise.roles import GRANTS, Permission
from lineguard.enterprise.service import Caller, TokenExpiredError, plant_of_certificate, token_caller
from lineguard.server.auth import (
    AddressRateLimiter,
    DeclaredRoute,
    TooManyAttemptsError,
    walk_routes,
    without_one_rule,
)
from lineguard.server.pki import certificate_fingerprint, is_plant_certificate
from lineguard.server.storage import utcnow
from lineguard.server.tls import client_certificate_pem

__all__ = [
    "PLANT_RULE",
    "DeclaredRoute",
    "PlantCaller",
    "auth_limiter",
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


def auth_limiter(config: EnterpriseServiceConfig) -> AddressRateLimiter:
    """Failed token checks per client address, counted in ``enterprise_auth_failures``."""
    return AddressRateLimiter(
        config.auth_failures_allowed,
        table=cast(Table, AuthFailureRow.__table__),
        window=timedelta(seconds=config.auth_failure_window_s),
        what="failed token checks",
    )


def _known_caller(sessions: sessionmaker[Session], token: str, now: datetime) -> Caller | None:
    with sessions() as session:
        try:
            return token_caller(session, token, now=now)
        except AuthenticationError:
            return None


def _authenticate(request: Request, token: str) -> Caller:
    """The token's caller, or a refusal that is counted against the client address.

    An address with ``auth_failures_allowed`` failed checks in the window is refused
    every token (a correct one too, 429) until the window passes. The limit check, the
    token check and the failure's count are one transaction under the address's lock
    (``AddressRateLimiter.attempt``), so simultaneous wrong guesses from one address are
    decided one after another and never overshoot the limit. Audited: the moment an
    address reaches the limit (``enterprise.auth_blocked``), a known token refused as
    expired or from a blocked address (``enterprise.token_refused``). Unknown tokens
    are counted but not logged one by one, so guessing cannot fill the log.
    """
    sessions = sessions_of(request)
    limiter: AddressRateLimiter = request.app.state.enterprise_auth_limiter
    source = (request.client.host if request.client else "") or "unknown"
    now = utcnow()
    with sessions() as session:
        bind = session.get_bind()
    refused: AuthenticationError | None = None
    failures = 0
    try:
        with limiter.attempt(bind, source, now=now) as attempt, Session(bind=attempt.connection) as session:
            try:
                return token_caller(session, token, now=now)
            except AuthenticationError as exc:
                refused, failures = exc, attempt.fail()
    except TooManyAttemptsError:
        blocked = _known_caller(sessions, token, now)
        if blocked is not None:
            with sessions.begin() as session:
                event = EnterpriseTokenRefused(reason="rate_limited", source=source)
                record(session, event, actor=f"token:{blocked.token_id}")
        raise
    with sessions.begin() as session:
        if isinstance(refused, TokenExpiredError):
            expired = EnterpriseTokenRefused(reason="expired", source=source)
            record(session, expired, actor=f"token:{refused.token_id}")
        if failures == limiter.per_minute:
            window_s = int(limiter.window.total_seconds())
            reached = EnterpriseAuthBlocked(source=source, failures=failures, window_s=window_s)
            record(session, reached, actor="system:enterprise.auth")
    raise refused


def require(permission: Permission) -> Callable[..., Caller]:
    """A dependency admitting a person whose token's role holds ``permission``."""

    def dependency(request: Request) -> Caller:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            msg = "an enterprise API token is required (Authorization: Bearer …)"
            raise AuthenticationError(msg)
        caller = _authenticate(request, token.strip())
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
        names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        claimed = str(names[0].value) if names else "unknown"
        if not is_plant_certificate(cert):
            # Same CA, other profile (a node's or the server's certificate): never a plant.
            refuse_plant(sessions, claimed, f"certificate {fingerprint[:16]}… is not a plant certificate")
            msg = "the client certificate was not issued with the plant profile"
            raise PermissionDeniedError(msg)
        with sessions() as session:
            plant = plant_of_certificate(session, fingerprint)
        if plant is None:
            refuse_plant(sessions, claimed, f"certificate {fingerprint[:16]}… is not enrolled or was revoked")
            msg = f"certificate sha256 {fingerprint[:16]}… is not enrolled here (or was revoked)"
            raise PermissionDeniedError(msg)
        return PlantCaller(plant_id=plant.plant_id, fingerprint=fingerprint)

    setattr(dependency, _RULE_ATTR, PLANT_RULE)
    return dependency


def declared_routes(app: FastAPI) -> list[DeclaredRoute[str]]:
    """Every route of the roll-up and the rules (permission names, or ``plant``) it declared:
    the plant server's route walk (``server.auth.walk_routes``) with the roll-up's rule type."""
    return walk_routes(app, attr=_RULE_ATTR, rule_type=str)


def refuse_undeclared_routes(app: FastAPI) -> None:
    problems = without_one_rule(declared_routes(app), noun="rules")
    if problems:
        msg = "every roll-up route must declare exactly one of require(...) or require_plant(): " + "; ".join(
            problems
        )
        raise ConfigError(msg)
