"""The dashboard's API routes (mounted under ``/api/v1/dashboard`` beside the query domain's).

* ``GET /dashboard/alerts/stream`` — live alerts as Server-Sent Events
  (``inspection_results.read``; see :mod:`.live`).
* ``GET /dashboard/alerts/page`` — the alerts page's list: a page of alerts, newest
  first, filtered, each with its part and review item (see :mod:`.queue`).
* ``GET /dashboard/alerts/{alert_id}`` — one alert with the inspection record that raised it.
* ``GET /dashboard/records/{event_id}`` — one inspection record.
* ``GET /dashboard/truth`` — the AI's part verdicts in a window scored against the
  configured ground truth (``dashboard.ground_truth_file``; null when none; see :mod:`.truth`).
* ``GET /dashboard/records/{event_id}/part`` — the part it was a frame of: the fused
  verdict, its review item and the part's other frames (see :mod:`.parts`).
* ``POST /dashboard/records/{event_id}/evidence`` — an audited request to open the
  record's evidence image (``evidence_images.read``, never through an API token): the
  server asks the node holding it and answers 202 with the view to poll
  (:mod:`lineguard.server.evidence_views`).

Each route declares its permission with ``require``, re-checks the record's line against
the caller's scope (a refusal is a 403 and an ``access.denied`` audit entry) and records
the read in the audit log.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from lineguard.contracts.errors import InputError, LineGuardError
from lineguard.server import evidence_views, query
from lineguard.server.auth import Access, Action, current_principal, require
from lineguard.server.context import API_PREFIX, get_session
from lineguard.server.dashboard import service
from lineguard.server.dashboard.live import alert_frames
from lineguard.server.dashboard.parts import part_of_record
from lineguard.server.dashboard.queue import AlertFilter, alert_page
from lineguard.server.dashboard.schemas import (
    AlertDetail,
    AlertPage,
    EvidenceAnswer,
    EvidenceRequest,
    PartView,
    RecordView,
    TruthScore,
)
from lineguard.server.dashboard.truth import load_ground_truth, score_parts
from lineguard.server.headers import security_headers
from lineguard.server.ingest import NodeHealthRow
from lineguard.server.query import AlertView

__all__ = ["router"]

router = APIRouter(prefix="/dashboard", tags=["dashboard"])

ReadResults = Annotated[Access, Depends(require(Action.INSPECTION_RESULTS_READ))]
ReadEvidence = Annotated[Access, Depends(require(Action.EVIDENCE_IMAGES_READ))]
DbSession = Annotated[Session, Depends(get_session)]
RecordId = Annotated[str, Path(min_length=1, max_length=128)]
#: A node whose last heartbeat is older than this is shown offline (as on node health).
OFFLINE_AFTER = timedelta(seconds=120)


@router.get("/alerts/stream", summary="Live alerts (Server-Sent Events; send Accept: text/event-stream)")
def get_alert_stream(access: ReadResults, request: Request) -> StreamingResponse:
    if "text/event-stream" not in request.headers.get("accept", ""):
        raise HTTPException(406, "this route streams Server-Sent Events: send Accept: text/event-stream")
    context = access.context
    settings = context.live
    site = access.runtime.site
    # The reader's lines, in a cell that each recheck refreshes (a revoked grant narrows it).
    lines = [access.scope.line_filter]
    access.record_read(records=0)

    def fetch(since: datetime) -> list[AlertView]:
        with context.sessions() as session:
            return query.recent_alerts(
                session, site_id=site, lines=lines[0], sealer=context.sealer, limit=200, since=since
            )

    def recheck() -> bool:
        # The same checks as the route's: a live session in state "active", and a scope
        # that still reaches some line.
        with context.sessions() as session:
            try:
                principal = current_principal(request, session, states=frozenset({"active"}))
            except LineGuardError:
                return False
            scope = principal.scope(access.runtime.engine, access.action, site=site, now=access.runtime.now())
            lines[0] = None if scope.all_lines else scope.lines
            return not scope.empty

    frames = alert_frames(
        fetch=fetch, recheck=recheck, is_disconnected=request.is_disconnected, settings=settings
    )
    headers = {**security_headers(), "X-Accel-Buffering": "no"}
    return StreamingResponse(frames, media_type="text/event-stream", headers=headers)


Name = Annotated[str | None, Query(max_length=64)]
ReviewState = Literal["open", "unreviewed", "new", "acknowledged", "assigned", "escalated", "resolved"]


@router.get("/alerts/page", summary="A page of alerts, newest first, with their part and review state")
def get_alert_page(
    access: ReadResults,
    session: DbSession,
    severity: Annotated[Literal["info", "warning", "critical"] | None, Query()] = None,
    kind: Name = None,
    line_id: Name = None,
    defect_class: Name = None,
    state: Annotated[list[ReviewState] | None, Query(description="Review states; open = any open.")] = None,
    since: Annotated[datetime | None, Query(description="Raised at or after (UTC).")] = None,
    until: Annotated[datetime | None, Query(description="Raised before (UTC).")] = None,
    before_raised_at: Annotated[datetime | None, Query(description="Page on: cursor's raised_at.")] = None,
    before_id: Annotated[str | None, Query(max_length=128, description="…and its alert id.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AlertPage:
    if (before_raised_at is None) != (before_id is None):
        msg = "page with both before_raised_at and before_id (the cursor's), or neither"
        raise InputError(msg)
    page = alert_page(
        session,
        site_id=access.runtime.site,
        lines=access.scope.line_filter,
        sealer=access.context.sealer,
        where=AlertFilter(
            severity=severity,
            kind=kind,
            line_id=line_id,
            defect_class=defect_class,
            states=list(state or ()),
            since=since,
            until=until,
        ),
        before=(before_raised_at, before_id) if before_raised_at and before_id else None,
        limit=limit,
    )
    access.record_read(records=len(page.items))
    return page


@router.get("/truth", summary="Part verdicts in a window scored against the configured ground truth")
def get_truth(
    access: ReadResults,
    session: DbSession,
    start: Annotated[datetime, Query(description="First seen at or after (UTC).")],
    end: Annotated[datetime, Query(description="First seen before (UTC).")],
) -> TruthScore | None:
    path = access.context.settings.dashboard.ground_truth_file
    if path is None:
        access.record_read(records=0)
        return None
    score = score_parts(
        session,
        truth=load_ground_truth(path),
        site_id=access.runtime.site,
        lines=access.scope.line_filter,
        sealer=access.context.sealer,
        start=start,
        end=end,
    )
    access.record_read(records=score.defective_parts + score.good_parts + score.unknown_parts)
    return score


@router.get("/alerts/{alert_id}", summary="One alert and the inspection record that raised it")
def get_alert(alert_id: RecordId, access: ReadResults, session: DbSession) -> AlertDetail:
    site, sealer = access.runtime.site, access.context.sealer
    row = service.find_alert(session, site_id=site, alert_id=alert_id)
    access.check_line(row.line_id, record=alert_id)
    record = None
    if row.event_id is not None:
        found = service.find_record_or_none(session, site_id=site, event_id=row.event_id)
        # None: removed by retention, or not delivered yet (alerts and events travel apart).
        record = None if found is None else service.record_view(found, sealer=sealer)
    access.record_read(records=1 + (record is not None))
    return AlertDetail(alert=service.alert_view(row, sealer=sealer), event_id=row.event_id, record=record)


@router.get("/records/{event_id}", summary="One inspection record")
def get_record(event_id: RecordId, access: ReadResults, session: DbSession) -> RecordView:
    row = service.find_record(session, site_id=access.runtime.site, event_id=event_id)
    access.check_line(row.line_id, record=event_id)
    view = service.record_view(row, sealer=access.context.sealer)
    access.record_read(records=1)
    return view


@router.get("/records/{event_id}/part", summary="The part a record was a frame of, and its other frames")
def get_record_part(event_id: RecordId, access: ReadResults, session: DbSession) -> PartView | None:
    row = service.find_record(session, site_id=access.runtime.site, event_id=event_id)
    access.check_line(row.line_id, record=event_id)
    part = part_of_record(session, record=row, sealer=access.context.sealer)
    access.record_read(records=0 if part is None else 1 + len(part.frames))
    return part


@router.post(
    "/records/{event_id}/evidence",
    summary="Open a record's evidence image (audited): asks the node, answers 202 with the view to poll",
)
def post_evidence(
    event_id: RecordId, body: EvidenceRequest, access: ReadEvidence, session: DbSession, response: Response
) -> EvidenceAnswer:
    site = access.runtime.site
    row = service.find_record(session, site_id=site, event_id=event_id)
    access.check_line(row.line_id, record=event_id)
    health = session.get(NodeHealthRow, row.node_id)
    now = access.runtime.now()
    online = health is not None and now - health.last_seen_at <= OFFLINE_AFTER
    # Audited whatever the outcome: the request itself is the access to account for.
    access.record_read(records=1, evidence_ref=row.evidence_ref or event_id, purpose=body.purpose)
    view, polling = (
        (None, False) if row.evidence_ref is None else evidence_views.open_view(access=access, row=row)
    )
    if view is None:
        message = "The node kept no evidence image for this part."
    elif polling:
        message = f"Asked edge node {row.node_id} for the redacted image."
    else:
        message = (
            f"Asked edge node {row.node_id} for the redacted image; it has not polled for requests "
            "in the last minute (is evidence.remote_view on at the node?)."
        )
    if view is not None:
        response.status_code = 202
    return EvidenceAnswer(
        event_id=row.event_id,
        node_id=row.node_id,
        evidence_ref=row.evidence_ref,
        status="none" if view is None else "pending",
        message=message,
        purpose=body.purpose,
        audited_at=now.astimezone(UTC),
        node_online=online,
        node_polling=polling,
        view_id=None if view is None else view.view_id,
        view_url=None if view is None else f"{API_PREFIX}/evidence-views/{view.view_id}",
    )
