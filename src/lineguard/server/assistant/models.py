"""The assistant's own record of every question: who asked what in which workflow, and the
answer, both sealed (they may quote protected data), under their own retention
category (``assistant_questions``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from lineguard.server.storage import Base, UtcDateTime

__all__ = ["AssistantQuestionRow"]


class AssistantQuestionRow(Base):
    __tablename__ = "assistant_questions"
    __table_args__ = (Index(None, "asked_at"), Index(None, "asked_by", "asked_at"))

    question_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64))
    asked_by: Mapped[str] = mapped_column(String(160))
    workflow: Mapped[str] = mapped_column(String(48))
    asked_at: Mapped[datetime] = mapped_column(UtcDateTime)
    scope: Mapped[str] = mapped_column(String(500))
    #: ``{"question": …, "answer": …}`` as JSON, sealed (object id: the question id).
    text_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    answer_sha256: Mapped[str] = mapped_column(String(64))
    refused: Mapped[bool] = mapped_column(Boolean)
    cited: Mapped[list[Any]] = mapped_column(JSON)
    answerer: Mapped[str] = mapped_column(String(64))
    answerer_version: Mapped[str] = mapped_column(String(32))
