"""The CMMS delivery queue: one row per (destination, work order), the dead-letter queue included.

A row is ``pending`` until a connector delivered it (``delivered``) or gave up
(``dead``: out of attempts, or a failure retrying cannot fix); ``replay`` puts dead rows
back to ``pending``. The unique ``(destination, work_order_id)`` makes enqueueing
idempotent, so an order is queued once however often it is approved or replayed. The
order itself is stored sealed (envelope-encrypted, category ``work_orders``), because
its description may carry plant information. ``lease_until``/``lease_token`` let one
sender own a row at a time across server processes. ``closed_at`` is set when the
CMMS reports the order closed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lineguard.server.storage import Base, UtcDateTime

__all__ = ["DELIVERY_STATES", "AutoApprovalRow", "CmmsDeliveryRow", "IntegrationCursorRow"]

DELIVERY_STATES = ("pending", "delivered", "dead")


class CmmsDeliveryRow(Base):
    __tablename__ = "cmms_deliveries"
    __table_args__ = (
        UniqueConstraint("destination", "work_order_id"),
        Index(None, "state", "next_attempt_at"),
        Index(None, "destination", "external_id"),
    )

    delivery_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    destination: Mapped[str] = mapped_column(String(32))
    work_order_id: Mapped[str] = mapped_column(String(128))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    order_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lease_token: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(String(500))
    external_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class IntegrationCursorRow(Base):
    """How far a publisher has read a stream (the MQTT publisher's position in each ingest table).

    Advanced only after the broker acknowledged everything up to it (QoS 1 PUBACK), so a
    broker or server restart resends from here and loses nothing.
    """

    __tablename__ = "integration_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AutoApprovalRow(Base):
    """An administrator's per-rule policy: recommendations of ``rule`` are approved without a person.

    Absent means off. Each change is audited (``config.changed``); the auto-approval
    itself is an ``ai.decision`` naming the policy, its author and when it was set.
    """

    __tablename__ = "work_order_auto_approval"

    rule: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_by: Mapped[str] = mapped_column(String(160))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
