"""Review routes, the same set for every subject kind (``review_router(kind)``).

For a kind named ``<k>`` (``alert``, ``part_verdict``; ``work_order`` mounts its own)::

    GET  /reviews/<k>                              kind.read     items, newest raised first (paged)
    GET  /reviews/<k>/{subject_id}                 kind.read     one item and its timeline
    POST /reviews/<k>/{subject_id}/acknowledge     kind.triage
    POST /reviews/<k>/{subject_id}/escalate        kind.triage   to a named role, with a reason
    POST /reviews/<k>/{subject_id}/assign          kind.decide
    POST /reviews/<k>/{subject_id}/decide          kind.decide   confirm/overrule or approve/reject/edit
    POST /reviews/<k>/{subject_id}/resolve         kind.decide   close without a verdict, with a reason
    GET  /reviews/<k>/labels                       model_configuration.write  (verdict kinds only)
                                                   confirmed / overruled verdicts as training labels, audited

For alerts and part verdicts: read = ``inspection_results.read``, triage =
``inspection_results.acknowledge``, decide = ``inspection_results.write``. Each change
also re-checks the item's line against the caller's grant (403, audited).

No ``from __future__ import annotations`` here: the routes are closures whose
``Depends(...)`` names a local of :func:`review_router`, and FastAPI must see the
annotation objects, not strings it would resolve in the module's globals.
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from lineguard.contracts.errors import InputError
from lineguard.server.auth import Access, Action, require
from lineguard.server.context import get_session
from lineguard.server.review import service, workflow
from lineguard.server.review.kinds import ALERT, PART_VERDICT, THERMAL_MAINTENANCE, SubjectKind
from lineguard.server.review.machine import State
from lineguard.server.review.models import ReviewItemRow
from lineguard.server.review.schemas import (
    AcknowledgeRequest,
    AssignRequest,
    DecideRequest,
    EscalateRequest,
    LabelView,
    ResolveRequest,
    ReviewDetail,
    ReviewItemView,
    ReviewStepView,
)

__all__ = ["review_router", "router"]

DbSession = Annotated[Session, Depends(get_session)]


def _detail(session: Session, item: ReviewItemRow) -> ReviewDetail:
    steps = service.steps_of(session, review_id=item.review_id)
    return ReviewDetail(item=ReviewItemView.of(item), steps=[ReviewStepView.of(s) for s in steps])


def review_router(kind: SubjectKind) -> APIRouter:
    """The review routes of ``kind``, each declaring the permission the kind names."""
    router = APIRouter(prefix=f"/reviews/{kind.name}", tags=["review"])
    reader, triage, decider = require(kind.read), require(kind.triage), require(kind.decide)
    # Training data leaves the plant's review record: the people who may train and register
    # models export it (a quality engineer), never a line's reader.
    exporter = require(Action.MODEL_CONFIGURATION_WRITE)

    def item_for(access: Access, session: Session, subject_id: str) -> ReviewItemRow:
        item = service.get_item(session, kind=kind, subject_id=subject_id)
        access.check_line(item.line_id, record=item.review_id)
        return item

    @router.get("", summary=f"{kind.title}s under review, newest first")
    def get_items(
        access: Annotated[Access, Depends(reader)],
        session: DbSession,
        state: Annotated[list[State] | None, Query(description="Only these states.")] = None,
        line_id: Annotated[str | None, Query(max_length=64)] = None,
        escalated_to: Annotated[str | None, Query(max_length=64, description="A role name.")] = None,
        assignee: Annotated[str | None, Query(max_length=160)] = None,
        before_raised_at: Annotated[
            datetime | None, Query(description="Page on: the last item's raised_at.")
        ] = None,
        before_id: Annotated[str | None, Query(max_length=64, description="…and its review_id.")] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> list[ReviewItemView]:
        if (before_raised_at is None) != (before_id is None):
            msg = "page with both before_raised_at and before_id (the last item's), or neither"
            raise InputError(msg)
        items = service.list_items(
            session,
            kind=kind,
            site_id=access.runtime.site,
            where=access.scope.filter(ReviewItemRow.__table__.c.line_id),
            states=[s.value for s in state or ()],
            line_id=line_id,
            escalated_to=escalated_to,
            assignee=assignee,
            before=(before_raised_at, before_id) if before_raised_at and before_id else None,
            limit=limit,
        )
        access.record_read(records=len(items))
        return [ReviewItemView.of(i) for i in items]

    if kind.judges_verdicts:

        @router.get("/labels", summary=f"Confirmed and overruled {kind.title.lower()}s as training labels")
        def get_labels(
            access: Annotated[Access, Depends(exporter)],
            session: DbSession,
            since: Annotated[datetime | None, Query(description="Decided at or after (UTC).")] = None,
            until: Annotated[datetime | None, Query(description="Decided before (UTC).")] = None,
        ) -> list[LabelView]:
            rows = service.labelled_items(
                session,
                kind=kind,
                site_id=access.runtime.site,
                where=access.scope.filter(ReviewItemRow.__table__.c.line_id),
                since=since,
                until=until,
            )
            service.record_export(
                session, kind=kind, records=len(rows), since=since, until=until,
                actor=access.principal.actor, audit=access.context.audit,
            )  # fmt: skip
            return [LabelView.of(r) for r in rows]

    @router.get("/{subject_id}", summary=f"One {kind.title.lower()} under review, with its timeline")
    def get_item(
        subject_id: str, access: Annotated[Access, Depends(reader)], session: DbSession
    ) -> ReviewDetail:
        detail = _detail(session, item_for(access, session, subject_id))
        access.record_read(records=1)
        return detail

    @router.post("/{subject_id}/acknowledge", summary="Acknowledge: someone is on it")
    def post_acknowledge(
        subject_id: str,
        body: AcknowledgeRequest,
        access: Annotated[Access, Depends(triage)],
        session: DbSession,
    ) -> ReviewDetail:
        item = workflow.acknowledge(
            session,
            item=item_for(access, session, subject_id),
            version=body.version,
            actor=access.principal.actor,
            audit=access.context.audit,
            now=access.runtime.now(),
            note=body.note,
        )
        return _detail(session, item)

    @router.post("/{subject_id}/escalate", summary="Escalate to a named role")
    def post_escalate(
        subject_id: str, body: EscalateRequest, access: Annotated[Access, Depends(triage)], session: DbSession
    ) -> ReviewDetail:
        item = workflow.escalate(
            session,
            item=item_for(access, session, subject_id),
            version=body.version,
            role=body.role,
            reason=body.reason,
            actor=access.principal.actor,
            audit=access.context.audit,
            now=access.runtime.now(),
        )
        return _detail(session, item)

    @router.post("/{subject_id}/assign", summary="Assign to a person")
    def post_assign(
        subject_id: str, body: AssignRequest, access: Annotated[Access, Depends(decider)], session: DbSession
    ) -> ReviewDetail:
        item = workflow.assign(
            session,
            item=item_for(access, session, subject_id),
            version=body.version,
            assignee=body.assignee,
            reason=body.reason,
            actor=access.principal.actor,
            audit=access.context.audit,
            now=access.runtime.now(),
        )
        return _detail(session, item)

    @router.post(
        "/{subject_id}/decide", summary="Confirm or overrule a verdict; approve, reject or edit a proposal"
    )
    def post_decide(
        subject_id: str, body: DecideRequest, access: Annotated[Access, Depends(decider)], session: DbSession
    ) -> ReviewDetail:
        item = workflow.decide(
            session,
            kind=kind,
            item=item_for(access, session, subject_id),
            version=body.version,
            decision=body.decision,
            reason=body.reason,
            label=body.label,
            defect_class=body.defect_class,
            changes=body.changes,
            actor=access.principal.actor,
            audit=access.context.audit,
            now=access.runtime.now(),
        )
        return _detail(session, item)

    @router.post("/{subject_id}/resolve", summary="Close without a verdict (with a reason)")
    def post_resolve(
        subject_id: str, body: ResolveRequest, access: Annotated[Access, Depends(decider)], session: DbSession
    ) -> ReviewDetail:
        item = workflow.resolve(
            session,
            item=item_for(access, session, subject_id),
            version=body.version,
            reason=body.reason,
            actor=access.principal.actor,
            audit=access.context.audit,
            now=access.runtime.now(),
        )
        return _detail(session, item)

    return router


router = APIRouter()
for _kind in (ALERT, PART_VERDICT, THERMAL_MAINTENANCE):
    router.include_router(review_router(_kind))
