"""Signing in: password, then TOTP code, with lockout, rate limiting and an audit trail.

::

    POST /auth/login {username, password}
      ├─ wrong → 401 (counts towards lockout; same answer for unknown users)
      ├─ MFA enrolled → session "mfa_pending" (5 min) → POST /auth/login/mfa {code}
      └─ no MFA → session "password_change" | "mfa_enroll" | "active"
    POST /auth/login/mfa {code}
      ├─ wrong or replayed → 401 (counts towards lockout)
      └─ right → new session id: "password_change" or "active", mfa=true

A session that is not ``active`` may only do what its state asks for (change the
one-time password, enroll TOTP); every other route answers 403 until then. Privileged
roles (``RoleInfo.mfa_required``) never get an ``active`` session without MFA.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from lineguard.contracts.audit import (
    AccountLocked,
    AccountUnlocked,
    LoginFailed,
    LoginSucceeded,
    MfaEnrolled,
    MfaFailed,
    MfaReset,
    PersonConfirmed,
)
from lineguard.contracts.errors import AuthenticationError, ConflictError
from lineguard.server.auth import totp
from lineguard.server.auth.accounts import end_sessions, user_by_name
from lineguard.server.auth.catalog import ROLES
from lineguard.server.auth.events import user_actor
from lineguard.server.auth.grants import active_grants
from lineguard.server.auth.lockout import (
    LockoutState,
    TooManyAttemptsError,
    account_key,
    clear_locks,
    load_lock,
    save_lock,
)
from lineguard.server.auth.models import BrowserSession, User
from lineguard.server.auth.runtime import AuthRuntime
from lineguard.server.auth.sessions import IssuedSession, SessionState, start_session
from lineguard.server.context import AuditHook, Sealer

__all__ = [
    "LoginStep",
    "begin_mfa_enrollment",
    "confirm_mfa_enrollment",
    "confirm_person",
    "enroll_without_browser",
    "ensure_unlocked",
    "login",
    "needs_mfa",
    "next_state",
    "record_failure",
    "reset_mfa",
    "unlock_account",
    "verify_mfa",
]

log = logging.getLogger(__name__)

_TOTP_CATEGORY = "auth_totp_secret"


def needs_mfa(session: Session, *, runtime: AuthRuntime, user: User) -> bool:
    grants = active_grants(session, user_id=user.id, now=runtime.now())
    return any(ROLES[g.role].mfa_required for g in grants)


def next_state(session: Session, *, runtime: AuthRuntime, user: User, mfa: bool) -> SessionState:
    """Where a session goes once the user has proven what they could so far."""
    if user.must_change_password:
        return "password_change"
    if not mfa and needs_mfa(session, runtime=runtime, user=user):
        return "mfa_enroll"
    return "active"


def record_failure(
    session: Session, *, runtime: AuthRuntime, username: str, source: str | None, audit: AuditHook
) -> None:
    """Count a failed attempt on (account name, source); lock that pair at the threshold."""
    now, account = runtime.now(), account_key(username)
    state = load_lock(session, account=account, source=source, for_update=True)
    after = runtime.lockout.after_failure(state, now=now)
    save_lock(session, account=account, source=source, state=after, now=now)
    if after.lockouts > state.lockouts and after.locked_until is not None:
        event = AccountLocked(username=account, failures=state.failures + 1, source_ip=source)
        audit(session, event, actor="system:login")


def ensure_unlocked(session: Session, *, runtime: AuthRuntime, username: str, source: str | None) -> None:
    """Raise :class:`TooManyAttemptsError` while (account name, source) is locked."""
    state = load_lock(session, account=account_key(username), source=source)
    runtime.lockout.ensure_unlocked(state, now=runtime.now())


def unlock_account(session: Session, *, user: User, by: str, audit: AuditHook) -> int:
    """An administrator's unlock: clear the account's locks from every source (audited)."""
    cleared = clear_locks(session, account=account_key(user.username))
    audit(session, AccountUnlocked(username=user.username, sources_cleared=cleared), actor=by)
    return cleared


def _success(session: Session, *, runtime: AuthRuntime, user: User, source: str | None) -> None:
    now = runtime.now()
    save_lock(session, account=account_key(user.username), source=source, state=LockoutState(), now=now)
    user.last_login_at = now


@dataclass(frozen=True, slots=True)
class LoginStep:
    issued: IssuedSession
    user: User


def login(
    session: Session,
    *,
    runtime: AuthRuntime,
    username: str,
    password: str,
    source: str | None,
    user_agent: str | None,
    audit: AuditHook,
) -> LoginStep:
    """Check the password; commit the outcome (failures too) and return the new session."""
    now = runtime.now()
    try:
        runtime.limiter.hit(session.get_bind(), source or "unknown", now=now)
    except TooManyAttemptsError:
        event = LoginFailed(username=username[:64] or "-", reason="rate_limited", source_ip=source)
        audit(session, event, actor="system:login")
        session.commit()
        raise
    user = user_by_name(session, username) if len(username) <= 64 else None
    try:
        ensure_unlocked(session, runtime=runtime, username=username, source=source)
    except TooManyAttemptsError:
        # The same work as an attempt, known name or not: a lock must not answer faster.
        runtime.hasher.burn(password)
        event = LoginFailed(username=account_key(username), reason="locked", source_ip=source)
        audit(session, event, actor="system:login")
        session.commit()
        raise
    if user is None or user.disabled:
        runtime.hasher.burn(password)
        record_failure(session, runtime=runtime, username=username, source=source, audit=audit)
        event = LoginFailed(
            username=username[:64] or "-",
            reason="unknown_user" if user is None else "disabled",
            source_ip=source,
        )
        audit(session, event, actor="system:login")
        session.commit()
        msg = "wrong user name or password"
        raise AuthenticationError(msg)
    actor = user_actor(user.username)
    try:
        runtime.hasher.verify(user.password_hash, password)
    except AuthenticationError:
        record_failure(session, runtime=runtime, username=user.username, source=source, audit=audit)
        event = LoginFailed(username=user.username, reason="bad_password", source_ip=source)
        audit(session, event, actor=actor)
        session.commit()
        raise
    if runtime.hasher.needs_rehash(user.password_hash):
        user.password_hash = runtime.hasher.hash(password)
    if user.mfa_enabled:
        state: SessionState = "mfa_pending"
    else:
        state = next_state(session, runtime=runtime, user=user, mfa=False)
        _success(session, runtime=runtime, user=user, source=source)
    issued = start_session(
        session, runtime=runtime, user=user, state=state, mfa=False, source=source, user_agent=user_agent
    )
    if state != "mfa_pending":
        succeeded = LoginSucceeded(username=user.username, method="password", source_ip=source)
        audit(session, succeeded, actor=actor)
    session.commit()
    return LoginStep(issued=issued, user=user)


def verify_mfa(
    session: Session,
    *,
    runtime: AuthRuntime,
    pending: BrowserSession,
    user: User,
    code: str,
    sealer: Sealer,
    source: str | None,
    audit: AuditHook,
) -> IssuedSession:
    """Second step of sign-in; commits the outcome and returns the rotated session."""
    now = runtime.now()
    if pending.state != "mfa_pending" or user.totp_sealed is None:
        msg = "no sign-in waiting for an authentication code"
        raise ConflictError(msg)
    ensure_unlocked(session, runtime=runtime, username=user.username, source=source)
    secret = sealer.open(user.totp_sealed, object_id=user.id, category=_TOTP_CATEGORY).decode()
    try:
        step = totp.verify_code(secret, code, now=now, last_step=user.totp_last_step)
    except AuthenticationError as exc:
        record_failure(session, runtime=runtime, username=user.username, source=source, audit=audit)
        log.info("authentication code refused for %s: %s", user.username, exc.message)
        audit(
            session,
            MfaFailed(username=user.username, source_ip=source),
            actor=user_actor(user.username),
        )
        session.commit()
        raise
    user.totp_last_step = step
    _success(session, runtime=runtime, user=user, source=source)
    state = next_state(session, runtime=runtime, user=user, mfa=True)
    issued = start_session(
        session,
        runtime=runtime,
        user=user,
        state=state,
        mfa=True,
        source=source,
        user_agent=pending.user_agent,
        replaces=pending,
    )
    event = LoginSucceeded(username=user.username, method="password+totp", source_ip=source)
    audit(session, event, actor=user_actor(user.username))
    session.commit()
    return issued


def begin_mfa_enrollment(
    session: Session, *, runtime: AuthRuntime, user: User, sealer: Sealer
) -> totp.TotpEnrollment:
    """A fresh secret for the user's authenticator app (shown once; confirmed by a code)."""
    if user.mfa_enabled:
        msg = "multi-factor authentication is already set up: ask an administrator to reset it first"
        raise ConflictError(msg)
    secret = totp.new_secret()
    user.totp_pending_sealed = sealer.seal(secret.encode(), object_id=user.id, category=_TOTP_CATEGORY)
    session.commit()
    return totp.TotpEnrollment(
        secret, totp.provisioning_uri(secret, username=user.username, site=runtime.site)
    )


def confirm_mfa_enrollment(
    session: Session,
    *,
    runtime: AuthRuntime,
    user: User,
    code: str,
    sealer: Sealer,
    current: BrowserSession,
    audit: AuditHook,
) -> IssuedSession:
    """Prove the app works with one code; then the session is rotated with mfa=true."""
    if user.totp_pending_sealed is None:
        msg = "no enrollment in progress: start one with POST /auth/mfa/enroll"
        raise ConflictError(msg)
    secret = sealer.open(user.totp_pending_sealed, object_id=user.id, category=_TOTP_CATEGORY).decode()
    try:
        step = totp.verify_code(secret, code, now=runtime.now(), last_step=None)
    except AuthenticationError:
        event = MfaFailed(username=user.username, source_ip=current.source_address)
        audit(session, event, actor=user_actor(user.username))
        session.commit()
        raise
    user.totp_sealed, user.totp_pending_sealed, user.totp_last_step = user.totp_pending_sealed, None, step
    audit(session, MfaEnrolled(username=user.username), actor=user_actor(user.username))
    issued = start_session(
        session,
        runtime=runtime,
        user=user,
        state=next_state(session, runtime=runtime, user=user, mfa=True),
        mfa=True,
        source=current.source_address,
        user_agent=current.user_agent,
        replaces=current,
    )
    session.commit()
    return issued


def reset_mfa(session: Session, *, runtime: AuthRuntime, user: User, by: str, audit: AuditHook) -> None:
    """Remove the user's TOTP (lost phone); their sessions end and enrollment starts over."""
    user.totp_sealed, user.totp_pending_sealed, user.totp_last_step = None, None, None
    end_sessions(session, user_id=user.id, runtime=runtime)
    audit(session, MfaReset(username=user.username), actor=by)


def confirm_person(
    session: Session,
    *,
    runtime: AuthRuntime,
    username: str,
    password: str,
    code: str,
    sealer: Sealer,
    purpose: str,
    via: str,
    audit: AuditHook,
) -> User:
    """The person behind one four-eyes step proves themself: password and a fresh code.

    Exactly the checks of a sign-in — the lockout of (name, ``via``), the password, the
    authenticator code once per step — and the same failures counted and audited, so
    access to the server host or to someone's API token no longer stands in for them.
    A person without an authenticator cannot take part in a four-eyes step. Commits
    the outcome; returns the confirmed (enabled) user.
    """
    ensure_unlocked(session, runtime=runtime, username=username, source=via)
    user = user_by_name(session, username) if len(username) <= 64 else None
    if user is None or user.disabled:
        runtime.hasher.burn(password)
        user = None
    else:
        try:
            runtime.hasher.verify(user.password_hash, password)
        except AuthenticationError:
            user = None
    if user is None or user.must_change_password:
        record_failure(session, runtime=runtime, username=username, source=via, audit=audit)
        event = LoginFailed(username=account_key(username), reason="bad_password", source_ip=via[:64])
        audit(session, event, actor="system:login")
        session.commit()
        msg = "wrong user name or password (or a one-time password not yet changed)"
        raise AuthenticationError(msg)
    if user.totp_sealed is None:
        msg = f"{user.username} has no authenticator: a four-eyes step needs one (enroll it at sign-in)"
        raise AuthenticationError(msg)
    secret = sealer.open(user.totp_sealed, object_id=user.id, category=_TOTP_CATEGORY).decode()
    try:
        step = totp.verify_code(secret, code, now=runtime.now(), last_step=user.totp_last_step)
    except AuthenticationError:
        record_failure(session, runtime=runtime, username=user.username, source=via, audit=audit)
        audit(
            session,
            MfaFailed(username=user.username, source_ip=via[:64]),
            actor=user_actor(user.username),
        )
        session.commit()
        raise
    user.totp_last_step = step
    _success(session, runtime=runtime, user=user, source=via)
    audit(
        session,
        PersonConfirmed(username=user.username, purpose=purpose, via=via),
        actor=user_actor(user.username),
    )
    session.commit()
    return user


def enroll_without_browser(
    session: Session,
    *,
    runtime: AuthRuntime,
    user: User,
    sealer: Sealer,
    code_of: Callable[[str], str],
    audit: AuditHook,
) -> str:
    """TOTP enrolment where no browser is at hand (the demo's scripted people): the same
    begin/confirm checks as ``/auth/mfa/enroll`` + ``/auth/mfa/confirm``; ``code_of`` is
    the person's authenticator (secret → current code). Commits; returns the secret.
    """
    enrollment = begin_mfa_enrollment(session, runtime=runtime, user=user, sealer=sealer)
    step = totp.verify_code(enrollment.secret, code_of(enrollment.secret), now=runtime.now(), last_step=None)
    user.totp_sealed, user.totp_pending_sealed, user.totp_last_step = user.totp_pending_sealed, None, step
    audit(session, MfaEnrolled(username=user.username), actor=user_actor(user.username))
    session.commit()
    return enrollment.secret
