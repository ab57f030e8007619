"""The roll-up's tables: enrolled plants, line-day aggregates, people's tokens and its own audit chain.

Schema versions: 1, the first release; 2 added ``enterprise_tokens.expires_at`` and
``enterprise_auth_failures`` (``storage.prepare_schema`` upgrades a version-1 database).

Its own metadata, not the plant server's: the roll-up's database holds no plant table and
a plant's database holds none of these. ``line_days`` keeps one row per (plant, line, day)
at the highest revision received; a plant resending the same revision changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lineguard.server.storage import UtcDateTime

__all__ = [
    "GENESIS",
    "SCHEMA_VERSION",
    "AuditHeadRow",
    "AuditRow",
    "AuthFailureRow",
    "EnterpriseBase",
    "LineDayRow",
    "PlantRow",
    "SchemaRow",
    "TokenRow",
]

#: Bumped with every change of these tables (the service refuses a database of another version).
SCHEMA_VERSION = 2
#: ``prev_hash`` of the first audit entry.
GENESIS = "0" * 64


class EnterpriseBase(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class SchemaRow(EnterpriseBase):
    __tablename__ = "enterprise_schema"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(Integer)


class PlantRow(EnterpriseBase):
    __tablename__ = "enterprise_plants"
    plant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: sha256 of the one certificate accepted from this plant (re-enrolling replaces it).
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    enrolled_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    last_received_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class LineDayRow(EnterpriseBase):
    __tablename__ = "enterprise_line_days"
    plant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    line_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[Any] = mapped_column(Date, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)
    parts_inspected: Mapped[int] = mapped_column(BigInteger)
    parts_passed: Mapped[int] = mapped_column(BigInteger)
    parts_failed: Mapped[int] = mapped_column(BigInteger)
    parts_uncertain: Mapped[int] = mapped_column(BigInteger)
    defect_classes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    alerts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TokenRow(EnterpriseBase):
    """A person's API token: only its sha256 is kept (the token is shown once, at creation)."""

    __tablename__ = "enterprise_tokens"
    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    holder: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: Refused from this moment on (401, audited); null only for a version-1 row never upgraded.
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class AuthFailureRow(EnterpriseBase):
    """One failed token check from a client address, kept for the failure window.

    Counted by the plant server's ``AddressRateLimiter`` (the same rule as its sign-in
    rate limit) against this table, so every worker of the roll-up counts the same failures.
    """

    __tablename__ = "enterprise_auth_failures"
    __table_args__ = (Index(None, "source", "attempted_at"), Index(None, "attempted_at"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    attempted_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AuditRow(EnterpriseBase):
    __tablename__ = "enterprise_audit"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    name: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(160))
    outcome: Mapped[str] = mapped_column(String(16))
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditHeadRow(EnterpriseBase):
    """One row: appends update it first, which serialises them on both engines."""

    __tablename__ = "enterprise_audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[str] = mapped_column(String(64))
