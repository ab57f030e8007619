"""The assistant's request and answer (``POST /api/v1/assistant/ask``, ``lineguard ask --json``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AnswerOut", "AskRequest", "Citation", "SentenceOut", "WorkflowOut"]


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=100_000)
    workflow: str = Field(min_length=1, max_length=64)
    #: Restrict the answer to these lines (in addition to lines named in the question).
    lines: list[str] | None = Field(default=None, max_length=50)


class Citation(BaseModel):
    """A record an answer rests on; the person asking may read it."""

    n: int
    record_id: str
    category: str
    record_type: str
    source_key: str
    title: str
    lines: list[str] | None


class SentenceOut(BaseModel):
    text: str
    cites: list[int]


class AnswerOut(BaseModel):
    """``answer``, ``citations``, ``scope`` and ``refused`` are the stable keys scripts rely on."""

    answer: str
    citations: list[Citation]
    scope: str
    refused: bool
    sentences: list[SentenceOut]
    workflow: str
    question_id: str
    #: ``builtin``, or ``language_model`` when the text is the model's (grounded) rephrasing.
    answerer: str
    recommendation_id: str | None = None
    #: The language model and version whose words these are (``answerer == "language_model"``).
    model: str | None = None
    #: Why a configured language model's text was not used (the built-in answer was returned).
    fallback: str | None = None


class WorkflowOut(BaseModel):
    name: str
    title: str
    categories: list[str]
