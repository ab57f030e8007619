"""Browser sessions: short-lived, stored hashed, rotated whenever they gain privilege.

The cookie holds a 256-bit random id; the table holds its SHA-256, so the database
cannot be replayed into a session. A session ends after ``auth.session_idle_minutes``
without a request or ``auth.session_absolute_hours`` after sign-in, whichever is first,
and at once when revoked (sign-out, password reset, account disabled). Each step up
(password → code → full session, one-time password → own password) issues a new id
and revokes the old one, so an id planted before sign-in (session fixation) is useless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from lineguard.contracts.errors import AuthenticationError
from lineguard.contracts.ids import uuid7
from lineguard.server.auth.bearer import digest, new_session_token
from lineguard.server.auth.models import BrowserSession, User
from lineguard.server.auth.runtime import AuthRuntime

__all__ = ["PENDING_MFA_TTL", "IssuedSession", "SessionState", "resolve_session", "start_session"]

SessionState = Literal["mfa_pending", "password_change", "mfa_enroll", "active"]
PENDING_MFA_TTL = timedelta(minutes=5)
#: Write ``last_seen_at`` at most this often: a write per request would dominate reads.
_TOUCH_EVERY = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class IssuedSession:
    token: str  # goes into the cookie, never stored
    row: BrowserSession


def start_session(
    session: Session,
    *,
    runtime: AuthRuntime,
    user: User,
    state: SessionState,
    mfa: bool,
    source: str | None,
    user_agent: str | None,
    replaces: BrowserSession | None = None,
) -> IssuedSession:
    now = runtime.now()
    if replaces is not None:
        replaces.revoked_at = now
    lifetime = PENDING_MFA_TTL if state == "mfa_pending" else runtime.absolute_timeout
    token = new_session_token()
    row = BrowserSession(
        id=f"ses_{uuid7().hex}",
        token_hash=digest(token),
        user_id=user.id,
        state=state,
        mfa=mfa,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        source_address=(source or "")[:64] or None,
        user_agent=(user_agent or "")[:200] or None,
    )
    session.add(row)
    session.flush()
    return IssuedSession(token=token, row=row)


def resolve_session(session: Session, *, runtime: AuthRuntime, token: str) -> tuple[BrowserSession, User]:
    """The live session and its user for a cookie value; :class:`AuthenticationError` otherwise."""
    if not token or len(token) > 128:
        msg = "no valid session: sign in"
        raise AuthenticationError(msg)
    row = session.scalars(select(BrowserSession).where(BrowserSession.token_hash == digest(token))).first()
    now = runtime.now()
    if row is None:
        msg = "unknown session: sign in again"
        raise AuthenticationError(msg)
    if row.revoked_at is not None:
        msg = "session ended: sign in again"
        raise AuthenticationError(msg)
    if now >= row.expires_at or now - row.last_seen_at >= runtime.idle_timeout:
        msg = "session expired: sign in again"
        raise AuthenticationError(msg)
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        msg = "account disabled"
        raise AuthenticationError(msg)
    if now - row.last_seen_at >= _TOUCH_EVERY:
        row.last_seen_at = now
        session.commit()
    return row, user
