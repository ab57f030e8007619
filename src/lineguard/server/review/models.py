"""Tables of the review domain: one row per AI output under review, and its history.

``review_items`` holds the current state of each item (one per ``(subject_kind,
subject_id)``, a unique constraint), the AI's proposal exactly as it was made
(``ai_proposal``, written once and never updated) and the person's outcome beside it
(``human_outcome``). ``version`` is the optimistic-concurrency counter: every change
increments it, and SQLAlchemy's ``version_id_col`` makes an ``UPDATE`` that finds a
different version fail instead of overwriting (someone else changed the item first).

``review_steps`` is the item's timeline as people see it on the record page (who did
what, when, why, and the before/after of an edit); the tamper-evident copy of each step
is the audit entry written in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lineguard.server.storage import Base, UtcDateTime

__all__ = ["ReviewItemRow", "ReviewStepRow"]

RowId = BigInteger().with_variant(Integer(), "sqlite")


class ReviewItemRow(Base):
    __tablename__ = "review_items"
    __table_args__ = (
        UniqueConstraint("subject_kind", "subject_id"),
        Index(None, "subject_kind", "state", "raised_at"),
        Index(None, "subject_kind", "raised_at"),
        Index(None, "state", "raised_at"),
    )

    review_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(128))
    site_id: Mapped[str] = mapped_column(String(64))
    line_id: Mapped[str | None] = mapped_column(String(64))
    #: When the AI raised what is reviewed (the alert's ``raised_at``…): escalation counts from here.
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(16))
    #: What the system proposed, kept as it was made (never updated).
    ai_proposal: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: The person's decision (``confirm``, ``overrule``, ``approve``, ``reject``, ``edit``), if any.
    decision: Mapped[str | None] = mapped_column(String(16))
    #: What the person decided the truth is (a verdict, an edited proposal), beside the AI's.
    human_outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    assignee: Mapped[str | None] = mapped_column(String(160))
    escalated_to: Mapped[str | None] = mapped_column(String(64))
    acknowledged_by: Mapped[str | None] = mapped_column(String(160))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(160))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(160))
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's declaration


class ReviewStepRow(Base):
    __tablename__ = "review_steps"
    __table_args__ = (Index(None, "review_id", "step_no"),)

    row_id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    review_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("review_items.review_id", ondelete="CASCADE")
    )
    step_no: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(160))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    #: Action details: the assignee, the role escalated to, the outcome and the before/after of an edit.
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
