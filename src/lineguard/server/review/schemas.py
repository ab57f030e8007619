"""Request and response bodies of the review routes.

Every request that changes an item carries the ``version`` the caller saw: the server
answers 409 when the item changed since (someone else acted first), never overwriting.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from lineguard.server.review.kinds import Decision, OverruleLabel
from lineguard.server.review.models import ReviewItemRow, ReviewStepRow

__all__ = [
    "AcknowledgeRequest",
    "AssignRequest",
    "DecideRequest",
    "EscalateRequest",
    "LabelView",
    "ResolveRequest",
    "ReviewDetail",
    "ReviewItemView",
    "ReviewStepView",
]

Version = Annotated[int, Field(ge=1, description="The item's version as the caller last saw it.")]
Reason = Annotated[str, Field(max_length=500, description="Why (people's words; kept in the audit log).")]
RoleName = Annotated[str, Field(pattern=r"^[a-z_]{1,64}$", description="A role of the policy.")]
Person = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$", description="A username.")]
ClassName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Version


class AcknowledgeRequest(_Request):
    note: Reason = ""


class AssignRequest(_Request):
    assignee: Person
    reason: Reason = ""


class EscalateRequest(_Request):
    role: RoleName
    reason: Reason


class ResolveRequest(_Request):
    reason: Reason


class DecideRequest(_Request):
    """``confirm``/``approve`` need no reason; every other decision does (checked by the service).

    ``overrule`` takes a ``label`` (``false_call``, ``confirmed_defect``, ``other_class``) and,
    for ``other_class``, the ``defect_class`` the person sees; ``edit`` takes ``changes``,
    the proposal fields with their new values.
    """

    decision: Decision
    reason: Reason = ""
    label: OverruleLabel | None = None
    defect_class: ClassName | None = None
    changes: dict[Annotated[str, Field(max_length=64)], Any] | None = Field(default=None, max_length=50)


class ReviewStepView(BaseModel):
    step_no: int
    action: str
    actor: str
    at: datetime
    from_state: str | None
    to_state: str
    reason: str
    detail: dict[str, Any]

    @classmethod
    def of(cls, row: ReviewStepRow) -> ReviewStepView:
        return cls(
            step_no=row.step_no,
            action=row.action,
            actor=row.actor,
            at=row.at,
            from_state=row.from_state,
            to_state=row.to_state,
            reason=row.reason,
            detail=row.detail,
        )


class ReviewItemView(BaseModel):
    review_id: str
    subject_kind: str
    subject_id: str
    line_id: str | None
    raised_at: datetime
    state: str
    version: int
    ai_proposal: dict[str, Any]
    decision: str | None
    human_outcome: dict[str, Any] | None
    assignee: str | None
    escalated_to: str | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, row: ReviewItemRow) -> ReviewItemView:
        return cls(
            review_id=row.review_id,
            subject_kind=row.subject_kind,
            subject_id=row.subject_id,
            line_id=row.line_id,
            raised_at=row.raised_at,
            state=row.state,
            version=row.version,
            ai_proposal=row.ai_proposal,
            decision=row.decision,
            human_outcome=row.human_outcome,
            assignee=row.assignee,
            escalated_to=row.escalated_to,
            acknowledged_by=row.acknowledged_by,
            acknowledged_at=row.acknowledged_at,
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            resolved_by=row.resolved_by,
            resolved_at=row.resolved_at,
            updated_at=row.updated_at,
        )


class LabelView(BaseModel):
    """One reviewed verdict as training data: the AI's call beside the person's."""

    review_id: str
    subject_id: str
    line_id: str | None
    camera_id: str | None
    event_id: str | None
    ai_verdict: str | None
    ai_defect_class: str | None
    human_verdict: str | None
    human_defect_class: str | None
    label: str | None
    decided_by: str | None
    decided_at: datetime | None

    @classmethod
    def of(cls, row: ReviewItemRow) -> LabelView:
        ai, human = row.ai_proposal, row.human_outcome or {}
        return cls(
            review_id=row.review_id,
            subject_id=row.subject_id,
            line_id=row.line_id,
            camera_id=ai.get("camera_id"),
            event_id=ai.get("event_id"),
            ai_verdict=ai.get("verdict"),
            ai_defect_class=ai.get("defect_class"),
            human_verdict=human.get("verdict"),
            human_defect_class=human.get("defect_class"),
            label=human.get("label"),
            decided_by=row.decided_by,
            decided_at=row.decided_at,
        )


class ReviewDetail(BaseModel):
    item: ReviewItemView
    steps: list[ReviewStepView]
