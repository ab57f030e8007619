"""What the roll-up does, as keyword-only functions taking a session (the views stay thin).

:func:`store_aggregates` keeps, per (plant, line, day), the snapshot of the highest
revision: a lower revision is stale, an equal one a duplicate, so a plant's retries and
a reordered delivery never change a count twice. It runs under a per-plant transaction
lock (PostgreSQL), so two requests of one plant cannot interleave.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lineguard.contracts.enterprise import LineDayAggregate, PlantAggregates, RollupReceipt
from lineguard.contracts.errors import AuthenticationError, ConflictError, InputError, NotFoundError
from lineguard.contracts.ids import new_id
from lineguard.enterprise.models import AuditRow, LineDayRow, PlantRow, TokenRow
from lineguard.enterprise.roles import Role
from lineguard.server.storage import transaction_lock, utcnow

__all__ = [
    "Caller",
    "TokenExpiredError",
    "audit_entries",
    "create_token",
    "enrol_plant",
    "line_days",
    "list_tokens",
    "plant_of_certificate",
    "plants",
    "revoke_plant",
    "revoke_token",
    "store_aggregates",
    "token_caller",
    "token_expiry",
]

TOKEN_PREFIX = "lge_"  # noqa: S105 - marks a token, is none


@dataclass(frozen=True, slots=True)
class Caller:
    token_id: str
    holder: str
    role: Role


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenExpiredError(AuthenticationError):
    """A known token past its ``expires_at`` (401; the roll-up audits it under the token's id)."""

    def __init__(self, message: str, *, token_id: str) -> None:
        super().__init__(message)
        self.token_id = token_id


def token_expiry(*, days: int | None, default_days: int, max_days: int, now: datetime) -> datetime:
    """When a token created ``now`` for ``days`` (default ``default_days``) expires; at most ``max_days``."""
    chosen = default_days if days is None else days
    if not 1 <= chosen <= max_days:
        msg = f"a token's validity must be 1 to {max_days} days (token_max_days), not {chosen}"
        raise InputError(msg)
    return now + timedelta(days=chosen)


def create_token(session: Session, *, holder: str, role: Role, expires_at: datetime) -> tuple[str, str]:
    """``(token_id, token)``; the token is returned once and only its digest is stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = new_id("tok")
    session.add(
        TokenRow(
            token_id=token_id,
            digest=_digest(token),
            holder=holder,
            role=role.value,
            created_at=utcnow(),
            expires_at=expires_at,
        )
    )
    session.flush()
    return token_id, token


def token_caller(session: Session, token: str, *, now: datetime) -> Caller:
    row = session.scalars(select(TokenRow).where(TokenRow.digest == _digest(token))).first()
    if row is None or row.revoked_at is not None:
        msg = "unknown or revoked token"
        raise AuthenticationError(msg)
    if row.expires_at is None or row.expires_at <= now:
        msg = f"token {row.token_id} expired; ask for a new one (`lineguard enterprise token create`)"
        raise TokenExpiredError(msg, token_id=row.token_id)
    return Caller(token_id=row.token_id, holder=row.holder, role=Role(row.role))


def list_tokens(session: Session) -> list[TokenRow]:
    """Every token (never its secret), newest first."""
    return list(session.scalars(select(TokenRow).order_by(TokenRow.created_at.desc(), TokenRow.token_id)))


def revoke_token(session: Session, *, token_id: str) -> None:
    row = session.get(TokenRow, token_id, with_for_update=True)
    if row is None:
        msg = f"no token {token_id!r}"
        raise NotFoundError(msg)
    if row.revoked_at is not None:
        msg = f"token {token_id!r} was already revoked"
        raise ConflictError(msg)
    row.revoked_at = utcnow()


def enrol_plant(session: Session, *, plant_id: str, fingerprint: str) -> None:
    """Accept the certificate ``fingerprint`` from ``plant_id`` (replacing an earlier one)."""
    row = session.get(PlantRow, plant_id)
    if row is None:
        session.add(PlantRow(plant_id=plant_id, fingerprint=fingerprint, enrolled_at=utcnow()))
    else:
        row.fingerprint, row.enrolled_at, row.revoked_at = fingerprint, utcnow(), None
    session.flush()


def revoke_plant(session: Session, *, plant_id: str) -> None:
    row = session.get(PlantRow, plant_id, with_for_update=True)
    if row is None:
        msg = f"no plant {plant_id!r} is enrolled"
        raise NotFoundError(msg)
    if row.revoked_at is not None:
        msg = f"plant {plant_id!r} was already revoked"
        raise ConflictError(msg)
    row.revoked_at = utcnow()


def plant_of_certificate(session: Session, fingerprint: str) -> PlantRow | None:
    """The enrolled, unrevoked plant whose certificate has this sha256, or None."""
    row = session.scalars(select(PlantRow).where(PlantRow.fingerprint == fingerprint)).first()
    return None if row is None or row.revoked_at is not None else row


def plants(session: Session) -> list[PlantRow]:
    return list(session.scalars(select(PlantRow).order_by(PlantRow.plant_id)))


def store_aggregates(session: Session, *, message: PlantAggregates, now: datetime) -> RollupReceipt:
    transaction_lock(session, f"enterprise-plant:{message.plant_id}")
    stored = duplicates = stale = 0
    for agg in message.aggregates:
        row = session.get(LineDayRow, (message.plant_id, agg.line_id, agg.day), with_for_update=True)
        if row is not None and row.revision == agg.revision:
            duplicates += 1
            continue
        if row is not None and row.revision > agg.revision:
            stale += 1
            continue
        values = _columns(agg)
        if row is None:
            session.add(LineDayRow(plant_id=message.plant_id, received_at=now, **values))
        else:
            for name, value in values.items():
                setattr(row, name, value)
            row.received_at = now
        stored += 1
    plant = session.get(PlantRow, message.plant_id)
    if plant is not None:
        plant.last_received_at = now
    session.flush()
    return RollupReceipt(stored=stored, duplicates=duplicates, stale=stale)


def _columns(agg: LineDayAggregate) -> dict[str, object]:
    dumped = agg.model_dump(mode="json")
    return {
        "line_id": agg.line_id,
        "day": agg.day,
        "revision": agg.revision,
        "parts_inspected": agg.parts_inspected,
        "parts_passed": agg.parts_passed,
        "parts_failed": agg.parts_failed,
        "parts_uncertain": agg.parts_uncertain,
        "defect_classes": dumped["defect_classes"],
        "alerts": dumped["alerts"],
    }


def line_days(
    session: Session, *, since: date, until: date, plant_id: str | None, line_id: str | None, limit: int
) -> list[LineDayRow]:
    d = LineDayRow
    query = select(d).where(d.day >= since, d.day <= until)
    if plant_id is not None:
        query = query.where(d.plant_id == plant_id)
    if line_id is not None:
        query = query.where(d.line_id == line_id)
    return list(session.scalars(query.order_by(d.day, d.plant_id, d.line_id).limit(limit)))


def audit_entries(session: Session, *, after_seq: int, limit: int) -> list[AuditRow]:
    return list(
        session.scalars(select(AuditRow).where(AuditRow.seq > after_seq).order_by(AuditRow.seq).limit(limit))
    )
