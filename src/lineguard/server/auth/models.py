"""Tables of the access-control domain: users, role grants, browser sessions, API tokens.

Nothing here stores a usable secret: passwords are argon2id hashes, session ids and API
token secrets are SHA-256 digests, and TOTP secrets are sealed with the server's
envelope encryption (``ServerContext.sealer``). Ids are opaque (UUIDv7 hex with a
prefix), never sequential.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from lineguard.server.storage import Base, UtcDateTime, utcnow

__all__ = ["ApiToken", "BrowserSession", "LoginLock", "RoleGrant", "SignInAttempt", "User"]


class User(Base):
    """One person. There are no shared accounts: ``username`` names an individual."""

    __tablename__ = "auth_users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(256))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    #: Sealed TOTP secret once enrollment is confirmed; the pending one until then.
    totp_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    totp_pending_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: Time step of the last accepted code: codes of this step or older are replays.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: Unused since auth_0002 (lockout moved to :class:`LoginLock`, per account and source);
    #: kept so a downgrade finds them.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    lockouts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    @property
    def mfa_enabled(self) -> bool:
        return self.totp_sealed is not None


class LoginLock(Base):
    """Failed sign-ins of one account name from one source address, and its lock.

    Keyed by the lower-cased name as typed, whether or not such an account exists, so
    an unknown name and a real one behave the same. A success from that source deletes
    the row; an administrator's unlock deletes every row of the account.
    """

    __tablename__ = "auth_login_locks"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    lockouts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class SignInAttempt(Base):
    """One sign-in attempt from a source address, kept a minute: the per-address rate limit.

    In the database rather than in a process's memory, so every worker and every replica
    counts the same attempts (``lockout.AddressRateLimiter``).
    """

    __tablename__ = "auth_signin_attempts"
    __table_args__ = (Index(None, "source", "attempted_at"), Index(None, "attempted_at"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    attempted_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RoleGrant(Base):
    """A role held by a user at a site (``lines`` null: the whole site), maybe until a date."""

    __tablename__ = "auth_role_grants"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("auth_users.id"), index=True)
    role: Mapped[str] = mapped_column(String(40))
    site: Mapped[str] = mapped_column(String(64))
    lines: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    granted_by: Mapped[str] = mapped_column(String(80))
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(80), nullable=True)


class BrowserSession(Base):
    """A signed-in browser. ``state`` restricts what a not-yet-complete session may do:

    ``mfa_pending`` (password ok, code next), ``password_change`` (one-time password:
    change it first), ``mfa_enroll`` (privileged role without TOTP: enroll first),
    ``active``.
    """

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("auth_users.id"), index=True)
    state: Mapped[str] = mapped_column(String(20))
    mfa: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    source_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(200), nullable=True)


class ApiToken(Base):
    """A scoped, expiring bearer token for an integration, acting for its owner.

    It can do at most what ``actions`` lists *and* what its owner may do at the time of
    the request, restricted to ``site`` (and ``lines`` when set).
    """

    __tablename__ = "auth_api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(ForeignKey("auth_users.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    actions: Mapped[list[str]] = mapped_column(JSON)
    site: Mapped[str] = mapped_column(String(64))
    lines: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "actions": list(self.actions), "site": self.site}
