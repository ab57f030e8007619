"""Granting and revoking roles: scope rules, separation of duties, no self-escalation.

A grant is checked three ways before it is stored:

1. **Shape** (:data:`~lineguard.server.auth.catalog.ROLES`): site-only roles get the
   whole site, the external partner gets named lines and an end date no further than
   the role's ``max_days``.
2. **Separation of duties** (:mod:`~lineguard.server.auth.separation`): the grantee's
   roles together must not hold a toxic pair of permissions.
3. **The policy**: the granting person needs ``users_and_roles.grant`` on a
   ``RoleGrant`` whose grantee is not themselves (Cedar forbid). The CLI on the server
   host is the break-glass path used to create the first administrator; it skips this
   check only, and is recorded as ``cli:<os user>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lineguard.contracts.audit import RoleGranted, RoleRevoked
from lineguard.contracts.errors import ConflictError, InputError, NotFoundError
from lineguard.contracts.ids import uuid7
from lineguard.server.auth.catalog import ROLES, Action, Role
from lineguard.server.auth.engine import Grant, Subject, Target
from lineguard.server.auth.models import RoleGrant, User
from lineguard.server.auth.runtime import AuthRuntime
from lineguard.server.auth.separation import conflicts
from lineguard.server.context import AuditHook

__all__ = ["active_grants", "describe", "grant_role", "grant_rows", "revoke_role"]

_ROLE_NAMES = frozenset(r.value for r in Role)


def grant_rows(session: Session, *, user_id: str, now: datetime) -> list[RoleGrant]:
    """Grants of ``user_id`` that count at ``now`` (not revoked, not ended)."""
    stmt = select(RoleGrant).where(
        RoleGrant.user_id == user_id,
        RoleGrant.revoked_at.is_(None),
        or_(RoleGrant.valid_until.is_(None), RoleGrant.valid_until > now),
    )
    return list(session.scalars(stmt.order_by(RoleGrant.granted_at)))


def _to_grant(row: RoleGrant) -> Grant:
    lines = None if row.lines is None else frozenset(row.lines)
    return Grant(role=Role(row.role), site=row.site, lines=lines, until=row.valid_until)


def active_grants(session: Session, *, user_id: str, now: datetime) -> tuple[Grant, ...]:
    return tuple(
        _to_grant(row) for row in grant_rows(session, user_id=user_id, now=now) if row.role in _ROLE_NAMES
    )


def describe(row: RoleGrant) -> str:
    """A grant's scope in words, e.g. ``plant/line-1,line-2 until 2027-01-31T00:00:00+00:00``."""
    where = row.site if row.lines is None else f"{row.site}/{','.join(row.lines)}"
    return where if row.valid_until is None else f"{where} until {row.valid_until.isoformat()}"


def _check_shape(role: Role, lines: list[str] | None, until: datetime | None, now: datetime) -> None:
    info = ROLES[role]
    if info.scope == "site" and lines is not None:
        msg = f"{role} is granted for the whole site, got lines {lines}"
        raise InputError(msg)
    if info.scope == "lines" and not lines:
        msg = f"{role} is granted for named lines only: give at least one line"
        raise InputError(msg)
    if lines is not None and (not lines or any(not line.strip() or len(line) > 64 for line in lines)):
        msg = "lines must be non-empty names of at most 64 characters"
        raise InputError(msg)
    if until is not None and until <= now:
        msg = f"grant end {until.isoformat()} is in the past"
        raise InputError(msg)
    if info.max_days is not None:
        latest = now + timedelta(days=info.max_days)
        if until is None or until > latest:
            msg = f"{role} grants are time-boxed: expected an end within {info.max_days} days, got {until}"
            raise InputError(msg)


def grant_role(
    session: Session,
    *,
    runtime: AuthRuntime,
    grantee: User,
    role: Role,
    lines: Iterable[str] | None = None,
    until: datetime | None = None,
    by: Subject | None,
    by_label: str,
    audit: AuditHook,
) -> RoleGrant:
    """Store a grant after the shape, separation-of-duties and policy checks."""
    now = runtime.now()
    line_list = None if lines is None else sorted({line.strip() for line in lines})
    _check_shape(role, line_list, until, now)
    if grantee.disabled:
        msg = f"user {grantee.username} is disabled"
        raise ConflictError(msg)
    if by is not None:
        target = Target(site=runtime.site, kind="role_grant", grantee=grantee.id, role=role.value)
        runtime.engine.check(by, Action.USERS_AND_ROLES_GRANT, target, now=now)
    held = {g.role for g in active_grants(session, user_id=grantee.id, now=now)} | {role}
    problems = conflicts(runtime.engine, held, now=now)
    if problems:
        msg = f"granting {role} to {grantee.username} breaks separation of duties"
        raise ConflictError(msg, details=problems)
    row = RoleGrant(
        id=f"grt_{uuid7().hex}",
        user_id=grantee.id,
        role=role.value,
        site=runtime.site,
        lines=line_list,
        valid_until=until,
        granted_by=by_label,
        granted_at=now,
    )
    session.add(row)
    session.flush()
    event = RoleGranted(username=grantee.username, role=role.value, scope=describe(row))
    audit(session, event, actor=by_label)
    return row


def revoke_role(
    session: Session,
    *,
    runtime: AuthRuntime,
    grant_id: str,
    by: Subject | None,
    by_label: str,
    audit: AuditHook,
) -> RoleGrant:
    row = session.get(RoleGrant, grant_id)
    if row is None or row.revoked_at is not None:
        msg = f"no active grant {grant_id}"
        raise NotFoundError(msg)
    now = runtime.now()
    if by is not None:
        target = Target(site=row.site, kind="role_grant", grantee=row.user_id, role=row.role)
        runtime.engine.check(by, Action.USERS_AND_ROLES_GRANT, target, now=now)
    row.revoked_at, row.revoked_by = now, by_label
    grantee = session.get(User, row.user_id)
    username = grantee.username if grantee is not None else row.user_id
    audit(session, RoleRevoked(username=username, role=row.role, scope=describe(row)), actor=by_label)
    return row
