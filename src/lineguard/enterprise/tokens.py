"""Issuing people's API tokens: a role, a holder and an expiry, audited in the same transaction.

A token lives ``token_days`` (30 by default) unless ``token create --days`` asks for
another validity, never more than ``token_max_days``; past ``expires_at`` it is refused
with 401 and ``enterprise.token_refused`` (reason ``expired``). Only its sha256 is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.enterprise import EnterpriseServiceConfig
from lineguard.contracts.audit import EnterpriseTokenCreated
from lineguard.enterprise.audit import record
from lineguard.enterprise.roles import Role
from lineguard.enterprise.service import create_token, token_expiry
from lineguard.server.storage import utcnow

__all__ = ["IssuedToken", "issue_token"]


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token_id: str
    secret: str
    expires_at: datetime

    def __repr__(self) -> str:  # never show the secret in logs or tracebacks
        return f"IssuedToken({self.token_id!r}, expires_at={self.expires_at.isoformat()})"


def issue_token(
    config: EnterpriseServiceConfig,
    sessions: sessionmaker[Session],
    *,
    holder: str,
    role: Role,
    days: int | None,
    actor: str,
) -> IssuedToken:
    """A new token for ``holder`` valid ``days`` (default ``token_days``, at most ``token_max_days``)."""
    expires_at = token_expiry(
        days=days, default_days=config.token_days, max_days=config.token_max_days, now=utcnow()
    )
    with sessions.begin() as session:
        token_id, secret = create_token(session, holder=holder, role=role, expires_at=expires_at)
        event = EnterpriseTokenCreated(
            token_id=token_id, holder=holder, role=role.value, expires_at=expires_at
        )
        record(session, event, actor=actor)
    return IssuedToken(token_id, secret, expires_at)
