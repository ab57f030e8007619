"""User accounts: individual people only, with passwords that start as one-time passwords.

Every account names one person (a user name such as ``j.doe`` and a display name); the
names teams use for shared logins (``admin``, ``operator``, ``shift1``…) are refused. An
account created by someone else starts with a generated one-time password that must be
changed at the first sign-in. Disabling an account ends its sessions and revokes its API
tokens in the same transaction. Functions take the database session first and
keyword-only arguments; they flush but leave the commit to the caller.
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lineguard.contracts.audit import ApiTokenRevoked, PasswordChanged, UserCreated, UserDisabled
from lineguard.contracts.errors import ConflictError, InputError, NotFoundError
from lineguard.contracts.ids import uuid7
from lineguard.server.auth.events import user_actor
from lineguard.server.auth.lockout import account_key, clear_locks
from lineguard.server.auth.models import ApiToken, BrowserSession, User
from lineguard.server.auth.runtime import AuthRuntime
from lineguard.server.context import AuditHook

__all__ = [
    "SHARED_ACCOUNT_NAMES",
    "change_password",
    "create_user",
    "disable_user",
    "get_user",
    "looks_shared",
    "reset_password",
    "revoke_tokens",
    "user_by_name",
]

log = logging.getLogger(__name__)

_USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
#: Names of role or team accounts, which would hide who did what.
SHARED_ACCOUNT_NAMES = frozenset(
    {"admin", "administrator", "root", "operator", "operators", "shared", "team", "guest", "test",
     "user", "users", "service", "lineguard", "quality", "maintenance", "supervisor", "auditor",
     "it", "support", "vendor", "partner", "kiosk", "line", "plant"}
)  # fmt: skip
_SHARED_PATTERN = re.compile(r"^(shift|line|team|station|kiosk|cell)[._-]?\d*$")


def looks_shared(username: str) -> bool:
    """Does ``username`` name a function, a group or a place rather than one person?"""
    name = username.strip().lower()
    return name in SHARED_ACCOUNT_NAMES or _SHARED_PATTERN.match(name) is not None


def _check_username(username: str) -> str:
    name = username.strip().lower()
    if not _USERNAME_RE.match(name):
        msg = f"user name {username!r} invalid: expected 2-64 of a-z 0-9 . _ - starting with a letter"
        raise InputError(msg)
    if looks_shared(name):
        msg = f"user name {name!r} looks like a shared account: accounts are for individual people"
        raise InputError(msg)
    return name


def one_time_password() -> str:
    return secrets.token_urlsafe(15)


def get_user(session: Session, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        msg = f"no user with id {user_id}"
        raise NotFoundError(msg)
    return user


def user_by_name(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username.strip().lower())).first()


def create_user(
    session: Session,
    *,
    runtime: AuthRuntime,
    username: str,
    display_name: str,
    by: str,
    audit: AuditHook,
) -> tuple[User, str]:
    """Create an account with a one-time password; return it with that password (shown once)."""
    name = _check_username(username)
    if not display_name.strip() or len(display_name) > 128:
        msg = "display name must be the person's name, 1-128 characters"
        raise InputError(msg)
    if user_by_name(session, name) is not None:
        msg = f"user {name!r} exists already"
        raise ConflictError(msg)
    password = one_time_password()
    now = runtime.now()
    user = User(
        id=f"usr_{uuid7().hex}",
        username=name,
        display_name=display_name.strip(),
        password_hash=runtime.hasher.hash(password),
        must_change_password=True,
        disabled=False,
        created_at=now,
        password_changed_at=now,
        failed_logins=0,
        lockouts=0,
    )
    session.add(user)
    session.flush()
    audit(session, UserCreated(username=name, roles=[]), actor=by)
    return user, password


def reset_password(session: Session, *, runtime: AuthRuntime, user: User, by: str, audit: AuditHook) -> str:
    """Replace the password with a new one-time password, end sessions; return it (shown once)."""
    password = one_time_password()
    user.password_hash = runtime.hasher.hash(password)
    user.must_change_password = True
    user.password_changed_at = runtime.now()
    clear_locks(session, account=account_key(user.username))
    end_sessions(session, user_id=user.id, runtime=runtime)
    revoke_tokens(session, runtime=runtime, user=user, reason="password_reset", by=by, audit=audit)
    audit(session, PasswordChanged(username=user.username), actor=by)
    return password


def change_password(
    session: Session, *, runtime: AuthRuntime, user: User, current: str, new: str, audit: AuditHook
) -> None:
    """The user's own change: prove the current password, pick a new, different one."""
    runtime.hasher.verify(user.password_hash, current)
    runtime.rules.check(new, username=user.username)
    if new == current:
        msg = "new password must differ from the current one"
        raise InputError(msg)
    user.password_hash = runtime.hasher.hash(new)
    user.must_change_password = False
    user.password_changed_at = runtime.now()
    actor = user_actor(user.username)
    revoke_tokens(session, runtime=runtime, user=user, reason="password_changed", by=actor, audit=audit)
    audit(session, PasswordChanged(username=user.username), actor=actor)


def revoke_tokens(
    session: Session,
    *,
    runtime: AuthRuntime,
    user: User,
    reason: Literal["password_changed", "password_reset", "disabled"],
    by: str,
    audit: AuditHook,
) -> int:
    """Revoke every live API token of ``user`` (credentials changed); one audit entry each.

    A token minted under the old password would otherwise outlive it: whoever stole the
    password, or a token made with it, keeps access after the owner changed it.
    """
    live = session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).all()
    now = runtime.now()
    for token in live:
        token.revoked_at = now
        audit(session, ApiTokenRevoked(token_id=token.id, reason=reason), actor=by)
    return len(live)


def end_sessions(session: Session, *, user_id: str, runtime: AuthRuntime, keep: str | None = None) -> int:
    """Revoke every live browser session of a user (but ``keep``); return how many."""
    stmt = (
        update(BrowserSession)
        .where(BrowserSession.user_id == user_id, BrowserSession.revoked_at.is_(None))
        .values(revoked_at=runtime.now())
    )
    if keep is not None:
        stmt = stmt.where(BrowserSession.id != keep)
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def disable_user(session: Session, *, runtime: AuthRuntime, user: User, by: str, audit: AuditHook) -> None:
    if by == user_actor(user.username):
        msg = "you cannot disable your own account: ask another administrator"
        raise ConflictError(msg)
    user.disabled = True
    ended = end_sessions(session, user_id=user.id, runtime=runtime)
    revoked = revoke_tokens(session, runtime=runtime, user=user, reason="disabled", by=by, audit=audit)
    log.info("disabled %s: %d sessions ended, %d tokens revoked", user.username, ended, revoked)
    audit(session, UserDisabled(username=user.username), actor=by)
