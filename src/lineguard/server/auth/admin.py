"""User administration as the ``/auth/users`` and ``/auth/grants`` routes run it.

Transaction contract: every function here that changes something is one transaction: it
calls the building blocks (:mod:`accounts`, :mod:`login`, :mod:`grants`), which never commit,
and commits. The CLI (``lineguard user``) and the access review compose the same building
blocks inside a transaction of their own, so those stay commit-free.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lineguard.server.auth import accounts, grants, login
from lineguard.server.auth.catalog import Role
from lineguard.server.auth.engine import Subject, Target
from lineguard.server.auth.lockout import account_key, locked_until
from lineguard.server.auth.models import RoleGrant, User
from lineguard.server.auth.runtime import AuthRuntime
from lineguard.server.auth.schemas import CreatedUser, GrantView, UserView
from lineguard.server.context import AuditHook

__all__ = [
    "create_user",
    "disable_user",
    "grant_role",
    "grant_target",
    "grant_view",
    "list_users",
    "reset_mfa",
    "revoke_grant",
    "unlock_user",
    "user_view",
]


def grant_view(row: RoleGrant) -> GrantView:
    return GrantView(id=row.id, role=row.role, site=row.site, lines=row.lines, until=row.valid_until)


def user_view(session: Session, user: User, *, runtime: AuthRuntime) -> UserView:
    """An account as administrators see it: its flags, lock and live grants."""
    rows = grants.grant_rows(session, user_id=user.id, now=runtime.now())
    return UserView(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        disabled=user.disabled,
        mfa_enabled=user.mfa_enabled,
        must_change_password=user.must_change_password,
        locked_until=locked_until(session, account=account_key(user.username), now=runtime.now()),
        grants=[grant_view(r) for r in rows],
    )


def list_users(session: Session, *, runtime: AuthRuntime) -> list[UserView]:
    """Every account, by user name."""
    users = session.scalars(select(User).order_by(User.username))
    return [user_view(session, u, runtime=runtime) for u in users]


def create_user(
    session: Session, *, runtime: AuthRuntime, username: str, display_name: str, by: str, audit: AuditHook
) -> CreatedUser:
    """Create an account with a one-time password (shown once); audited and committed."""
    user, password = accounts.create_user(
        session, runtime=runtime, username=username, display_name=display_name, by=by, audit=audit
    )
    session.commit()
    return CreatedUser(user=user_view(session, user, runtime=runtime), one_time_password=password)


def disable_user(
    session: Session, *, runtime: AuthRuntime, user_id: str, by: str, audit: AuditHook
) -> UserView:
    """Disable an account (its sessions and tokens end); audited and committed."""
    user = accounts.get_user(session, user_id)
    accounts.disable_user(session, runtime=runtime, user=user, by=by, audit=audit)
    session.commit()
    return user_view(session, user, runtime=runtime)


def reset_mfa(session: Session, *, runtime: AuthRuntime, user_id: str, by: str, audit: AuditHook) -> UserView:
    """Remove a user's TOTP (lost device); audited and committed."""
    user = accounts.get_user(session, user_id)
    login.reset_mfa(session, runtime=runtime, user=user, by=by, audit=audit)
    session.commit()
    return user_view(session, user, runtime=runtime)


def unlock_user(
    session: Session, *, runtime: AuthRuntime, user_id: str, by: str, audit: AuditHook
) -> UserView:
    """Clear an account's sign-in locks from every source; audited and committed."""
    user = accounts.get_user(session, user_id)
    login.unlock_account(session, user=user, by=by, audit=audit)
    session.commit()
    return user_view(session, user, runtime=runtime)


def grant_role(
    session: Session,
    *,
    runtime: AuthRuntime,
    grantee: User,
    role: Role,
    lines: list[str] | None,
    until: datetime | None,
    by: Subject,
    by_label: str,
    audit: AuditHook,
) -> GrantView:
    """Grant ``role`` to ``grantee`` (checked by the policy engine); audited and committed."""
    row = grants.grant_role(
        session,
        runtime=runtime,
        grantee=grantee,
        role=role,
        lines=lines,
        until=until,
        by=by,
        by_label=by_label,
        audit=audit,
    )
    session.commit()
    return grant_view(row)


def grant_target(session: Session, grant_id: str) -> Target | None:
    """What revoking grant ``grant_id`` acts on, for the caller's permission check (None: no such grant)."""
    row = session.get(RoleGrant, grant_id)
    if row is None:
        return None
    return Target(row.site, kind="role_grant", grantee=row.user_id, role=row.role)


def revoke_grant(
    session: Session, *, runtime: AuthRuntime, grant_id: str, by: Subject, by_label: str, audit: AuditHook
) -> None:
    """Revoke a role grant; audited and committed."""
    grants.revoke_role(session, runtime=runtime, grant_id=grant_id, by=by, by_label=by_label, audit=audit)
    session.commit()
