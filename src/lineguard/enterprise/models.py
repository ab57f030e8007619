"""The roll-up's tables: enrolled plants, line-day aggregates, people's tokens and its own audit chain.

Schema versions: 1, the first release; 2 added ``enterprise_tokens.expires_at`` and
``enterprise_auth_failures``; 3 signed the audit log: ``enterprise_audit_head`` gained
the plant's ``frontier`` and ``base_seq`` and ``enterprise_audit_checkpoints`` was added
(``storage.prepare_schema`` upgrades an older database).

The three audit tables are the plant's (``lineguard.server.audit``'s column mixins), so
the plant's ``record``, ``create_checkpoint`` and verifier serve this log through
:data:`ROLLUP_AUDIT`.

Its own metadata, not the plant server's: the roll-up's database holds no plant table and
a plant's database holds none of these. ``line_days`` keeps one row per (plant, line, day)
at the highest revision received; a plant resending the same revision changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Index, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lineguard.server.audit import (
    GENESIS_HASH,
    AuditChainHeadColumns,
    AuditCheckpointColumns,
    AuditEntryColumns,
    AuditTables,
)
from lineguard.server.storage import UtcDateTime

__all__ = [
    "GENESIS",
    "ROLLUP_AUDIT",
    "SCHEMA_VERSION",
    "AuditCheckpointRow",
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
SCHEMA_VERSION = 3
#: ``prev_hash`` of the first audit entry.
GENESIS = GENESIS_HASH


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


class AuditRow(AuditEntryColumns, EnterpriseBase):
    __tablename__ = "enterprise_audit"


class AuditHeadRow(AuditChainHeadColumns, EnterpriseBase):
    """One row: appends update it first, which serialises them on both engines."""

    __tablename__ = "enterprise_audit_head"


class AuditCheckpointRow(AuditCheckpointColumns, EnterpriseBase):
    """Signed Merkle roots over the roll-up's log (its own key, ``keyring`` in enterprise.yaml)."""

    __tablename__ = "enterprise_audit_checkpoints"


#: The roll-up's audit log, for the plant's ``record`` / ``create_checkpoint`` / ``DatabaseLog``.
ROLLUP_AUDIT = AuditTables(AuditRow, AuditHeadRow, AuditCheckpointRow)
