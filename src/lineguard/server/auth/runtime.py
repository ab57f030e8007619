"""Everything access control needs at run time, built once per app from ``server.yaml``.

``create_app`` builds the one :class:`AuthRuntime` of a server (``ServerContext.auth``)
before the app exists, so a policy that fails validation stops the server before it
serves anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lineguard.config.server import AuthConfig
from lineguard.server.auth.engine import PolicyEngine
from lineguard.server.auth.lockout import AddressRateLimiter, LockoutPolicy
from lineguard.server.auth.passwords import PasswordHasher, PasswordRules

__all__ = ["AuthRuntime"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class AuthRuntime:
    """Policy engine, hashing, lockout and session settings of one server."""

    site: str
    config: AuthConfig
    engine: PolicyEngine
    hasher: PasswordHasher
    rules: PasswordRules
    lockout: LockoutPolicy
    limiter: AddressRateLimiter
    #: The clock; tests move it forward instead of sleeping.
    clock: Any = field(default=_utcnow)

    @classmethod
    def build(cls, site: str, config: AuthConfig, *, engine: PolicyEngine | None = None) -> AuthRuntime:
        return cls(
            site=site,
            config=config,
            engine=engine or PolicyEngine.load(),
            hasher=PasswordHasher(
                time_cost=config.argon2_time_cost,
                memory_kib=config.argon2_memory_kib,
                parallelism=config.argon2_parallelism,
            ),
            rules=PasswordRules(min_length=config.password_min_length, context_words=(site, "lineguard")),
            lockout=LockoutPolicy(config.lockout_threshold, timedelta(minutes=config.lockout_minutes)),
            limiter=AddressRateLimiter(config.login_attempts_per_minute),
        )

    def now(self) -> datetime:
        now: datetime = self.clock()
        return now

    @property
    def idle_timeout(self) -> timedelta:
        return timedelta(minutes=self.config.session_idle_minutes)

    @property
    def absolute_timeout(self) -> timedelta:
        return timedelta(hours=self.config.session_absolute_hours)
