"""Review items: proposing them and reading them (the steps are in :mod:`.workflow`).

The owner of a subject *proposes* it with :func:`propose_many`, in the owner's
transaction (ingest proposes each alert it stores, in the batch's transaction), so a
subject never exists without its review item. Proposing is idempotent per subject.
Every function takes the session first and keyword-only arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, or_, select, true
from sqlalchemy.orm import Session

from lineguard.contracts.audit import AiRecommendationMade, ReviewLabelsExported
from lineguard.contracts.errors import NotFoundError
from lineguard.contracts.ids import new_ids
from lineguard.server.context import AuditHook
from lineguard.server.review.kinds import SubjectKind
from lineguard.server.review.machine import State
from lineguard.server.review.models import ReviewItemRow, ReviewStepRow
from lineguard.server.storage import insert_rows

__all__ = [
    "Proposal",
    "get_item",
    "labelled_items",
    "list_items",
    "propose_many",
    "record_export",
    "steps_of",
]


@dataclass(frozen=True, slots=True)
class Proposal:
    """One AI output to put under review; ``content`` is JSON (the verdict, the draft…)."""

    subject_id: str
    site_id: str
    line_id: str | None
    raised_at: datetime
    content: Mapping[str, Any]


def propose_many(
    session: Session,
    *,
    kind: SubjectKind,
    proposals: Sequence[Proposal],
    actor: str,
    audit: AuditHook,
    now: datetime,
) -> list[str]:
    """Open one ``new`` item per subject not yet under review; return the new review ids.

    Idempotent: a subject proposed twice (a retried ingest batch) keeps its first item
    (the unique ``(subject_kind, subject_id)`` decides, in the insert). Each new item is
    audited as ``ai.recommendation``. Runs in the caller's transaction; does not commit.
    """
    unique = {p.subject_id: p for p in reversed(proposals)}
    if not unique:
        return []
    ordered = [unique[k] for k in sorted(unique)]
    ids = new_ids("rev", len(ordered))
    rows: list[dict[str, Any]] = [
        {
            "review_id": review_id,
            "subject_kind": kind.name,
            "subject_id": p.subject_id,
            "site_id": p.site_id,
            "line_id": p.line_id,
            "raised_at": p.raised_at,
            "state": State.NEW.value,
            "ai_proposal": dict(p.content),
            "updated_at": now,
            "version": 1,
        }
        for review_id, p in zip(ids, ordered, strict=True)
    ]
    inserted = set(
        insert_rows(
            session,
            cast(Table, ReviewItemRow.__table__),
            rows,
            on_conflict=["subject_kind", "subject_id"],
            returning="review_id",
        )
    )
    new_rows = [r for r in rows if r["review_id"] in inserted]
    insert_rows(
        session,
        cast(Table, ReviewStepRow.__table__),
        [
            {
                "review_id": r["review_id"],
                "step_no": 1,
                "action": "propose",
                "actor": actor,
                "at": now,
                "from_state": None,
                "to_state": State.NEW.value,
                "reason": "",
                "detail": {},
            }
            for r in new_rows
        ],
    )
    for r in new_rows:
        event = AiRecommendationMade(
            recommendation_id=r["review_id"], kind=kind.name, subject=r["subject_id"]
        )
        audit(session, event, actor=actor)
    return [r["review_id"] for r in new_rows]


def get_item(session: Session, *, kind: SubjectKind, subject_id: str) -> ReviewItemRow:
    """The item reviewing ``subject_id``; :class:`NotFoundError` if none was proposed."""
    row = session.scalars(
        select(ReviewItemRow).where(
            ReviewItemRow.subject_kind == kind.name, ReviewItemRow.subject_id == subject_id
        )
    ).one_or_none()
    if row is None:
        msg = f"no {kind.name} {subject_id!r} under review"
        raise NotFoundError(msg)
    return row


def steps_of(session: Session, *, review_id: str) -> list[ReviewStepRow]:
    """The item's timeline, oldest first."""
    return list(
        session.scalars(
            select(ReviewStepRow).where(ReviewStepRow.review_id == review_id).order_by(ReviewStepRow.step_no)
        )
    )


def list_items(
    session: Session,
    *,
    kind: SubjectKind,
    site_id: str,
    where: ColumnElement[bool] | None = None,
    states: Sequence[str] = (),
    line_id: str | None = None,
    escalated_to: str | None = None,
    assignee: str | None = None,
    before: tuple[datetime, str] | None = None,
    limit: int = 50,
) -> list[ReviewItemRow]:
    """Items of ``kind``, newest raised first; ``before`` (raised_at, review_id) pages on.

    ``where`` is the caller's line scope (``Access.scope.filter(ReviewItemRow.line_id)``).
    """
    conditions: list[ColumnElement[bool]] = [
        ReviewItemRow.subject_kind == kind.name,
        ReviewItemRow.site_id == site_id,
        where if where is not None else true(),
    ]
    if states:
        conditions.append(ReviewItemRow.state.in_(list(states)))
    if line_id is not None:
        conditions.append(ReviewItemRow.line_id == line_id)
    if escalated_to is not None:
        conditions.append(ReviewItemRow.escalated_to == escalated_to)
    if assignee is not None:
        conditions.append(ReviewItemRow.assignee == assignee)
    if before is not None:
        at, review_id = before
        conditions.append(
            or_(
                ReviewItemRow.raised_at < at,
                and_(ReviewItemRow.raised_at == at, ReviewItemRow.review_id < review_id),
            )
        )
    stmt = (
        select(ReviewItemRow)
        .where(*conditions)
        .order_by(ReviewItemRow.raised_at.desc(), ReviewItemRow.review_id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def labelled_items(
    session: Session,
    *,
    kind: SubjectKind,
    site_id: str,
    where: ColumnElement[bool] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 10_000,
) -> list[ReviewItemRow]:
    """Items of a verdict kind a person confirmed or overruled (decided in ``[since, until)``),
    oldest decision first: the labelled data of the next training run."""
    conditions: list[ColumnElement[bool]] = [
        ReviewItemRow.subject_kind == kind.name,
        ReviewItemRow.site_id == site_id,
        ReviewItemRow.decision.in_(["confirm", "overrule"]),
        where if where is not None else true(),
    ]
    if since is not None:
        conditions.append(ReviewItemRow.decided_at >= since)
    if until is not None:
        conditions.append(ReviewItemRow.decided_at < until)
    stmt = (
        select(ReviewItemRow)
        .where(*conditions)
        .order_by(ReviewItemRow.decided_at, ReviewItemRow.review_id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def record_export(
    session: Session,
    *,
    kind: SubjectKind,
    records: int,
    since: datetime | None,
    until: datetime | None,
    actor: str,
    audit: AuditHook,
) -> None:
    """Audit an export of labels (``review.labels_exported``) and commit it."""
    audit(
        session, ReviewLabelsExported(kind=kind.name, records=records, since=since, until=until), actor=actor
    )
    session.commit()
