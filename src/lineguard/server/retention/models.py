"""Tables of the retention domain: the record of every sweep, and legal holds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lineguard.server.storage import Base, UtcDateTime

__all__ = ["LegalHoldRow", "RetentionPolicyRow", "RetentionSweepRow"]


class RetentionSweepRow(Base):
    """One run of the sweeper: when, what it deleted and kept per category, and how it ended."""

    __tablename__ = "retention_sweeps"
    __table_args__ = (Index(None, "started_at"),)

    sweep_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(16))
    deleted: Mapped[dict[str, Any]] = mapped_column(JSON)
    held: Mapped[dict[str, Any]] = mapped_column(JSON)
    keys_shredded: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class LegalHoldRow(Base):
    """A named record exempt from deletion until the hold is released."""

    __tablename__ = "legal_holds"
    __table_args__ = (Index(None, "category", "record_id"),)

    hold_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    category: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(String(256))
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(String(160))
    placed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    released_by: Mapped[str | None] = mapped_column(String(160))
    release_reason: Mapped[str | None] = mapped_column(Text)


class RetentionPolicyRow(Base):
    """A retention period changed at run time (``PUT /retention/policy``), overriding server.yaml."""

    __tablename__ = "retention_policy"

    setting: Mapped[str] = mapped_column(String(64), primary_key=True)
    days: Mapped[int] = mapped_column(BigInteger)
    changed_by: Mapped[str] = mapped_column(String(160))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
