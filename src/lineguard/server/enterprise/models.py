"""The plant's durable queue of line-day snapshots for its enterprise roll-up.

One row per (line, UTC day): the latest aggregate the plant computed for it (the exact
JSON it sends), its ``revision`` (bumped when the counts change) and ``sent_revision``
(the highest revision the roll-up acknowledged). A row is due while ``sent_revision <
revision`` and ``next_attempt_at`` has passed. The row survives restarts and a roll-up
that is down for weeks; it holds counts only, like the message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lineguard.server.storage import Base, UtcDateTime

__all__ = ["EnterpriseOutboxRow"]


class EnterpriseOutboxRow(Base):
    __tablename__ = "enterprise_outbox"
    __table_args__ = (Index("ix_enterprise_outbox_due", "next_attempt_at"),)

    line_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Midnight UTC starting the day.
    day: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)
    sent_revision: Mapped[int] = mapped_column(BigInteger, default=0)
    #: sha256 of the counts (without the revision): a recount that finds the same counts changes nothing.
    digest: Mapped[str] = mapped_column(String(64))
    #: The ``LineDayAggregate`` as JSON, revision included: exactly what is sent.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
