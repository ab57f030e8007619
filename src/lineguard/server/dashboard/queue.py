"""The alerts page's list: alerts newest first, a page at a time, each with its part and review.

One query joins each alert to its review item (``review_items``, subject kind ``alert``)
and to the inspection record that raised it (for the part id, opened for the reader),
so the page can group by part and acknowledge from the list without a request per row.
Pages are keyed, not numbered: the next page starts strictly after the last alert shown
(``raised_at``, then ``alert_id``, both descending), so alerts that arrive while someone
pages never shift or repeat what they see. The live stream (:mod:`.live`) adds new
alerts on top of the first page in the browser.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from lineguard.contracts.errors import InputError
from lineguard.server.context import Sealer
from lineguard.server.dashboard.schemas import AlertPage, PageCursor, QueuedAlert
from lineguard.server.dashboard.service import open_part_id
from lineguard.server.ingest import AlertRow, InspectionEventRow
from lineguard.server.query import alert_view
from lineguard.server.review import OPEN_STATES, ReviewItemRow, ReviewItemView

__all__ = ["AlertFilter", "alert_page"]

#: ``state=open`` on the alerts page: every state someone still has to act on.
OPEN = "open"
#: ``state=unreviewed``: alerts stored before the review domain existed (no item).
UNREVIEWED = "unreviewed"


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """What the alerts page asks for (each None or empty: no restriction)."""

    severity: str | None = None
    kind: str | None = None
    line_id: str | None = None
    defect_class: str | None = None
    #: Review states (``new`` … ``resolved``), ``open`` for every open one, ``unreviewed``.
    states: Sequence[str] = ()
    since: datetime | None = None
    until: datetime | None = None


def _state_condition(states: Sequence[str]) -> ColumnElement[bool] | None:
    if not states:
        return None
    wanted = set(states)
    if OPEN in wanted:
        wanted = (wanted - {OPEN}) | {s.value for s in OPEN_STATES}
    alternatives: list[ColumnElement[bool]] = []
    if UNREVIEWED in wanted:
        alternatives.append(ReviewItemRow.review_id.is_(None))
        wanted.discard(UNREVIEWED)
    if wanted:
        alternatives.append(ReviewItemRow.state.in_(sorted(wanted)))
    return or_(*alternatives)


def alert_page(
    session: Session,
    *,
    site_id: str,
    lines: Collection[str] | None,
    sealer: Sealer,
    where: AlertFilter,
    before: tuple[datetime, str] | None = None,
    limit: int = 50,
) -> AlertPage:
    """One page of alerts the reader may see (``lines`` None: every line), newest first."""
    if not 1 <= limit <= 200:
        msg = f"limit must be between 1 and 200, got {limit}"
        raise InputError(msg)
    if where.since is not None and where.until is not None and where.since >= where.until:
        msg = f"since ({where.since.isoformat()}) must be before until ({where.until.isoformat()})"
        raise InputError(msg)
    a, e, r = AlertRow, InspectionEventRow, ReviewItemRow
    conditions: list[ColumnElement[bool]] = [a.site_id == site_id]
    if lines is not None:
        conditions.append(a.line_id.in_(sorted(lines)))
    for column, value in (
        (a.severity, where.severity),
        (a.kind, where.kind),
        (a.line_id, where.line_id),
        (a.defect_class, where.defect_class),
    ):
        if value is not None:
            conditions.append(column == value)
    if where.since is not None:
        conditions.append(a.raised_at >= where.since)
    if where.until is not None:
        conditions.append(a.raised_at < where.until)
    state = _state_condition(where.states)
    if state is not None:
        conditions.append(state)
    if before is not None:
        at, alert_id = before
        conditions.append(or_(a.raised_at < at, and_(a.raised_at == at, a.alert_id < alert_id)))
    stmt = (
        select(a, r, e.part_id_sealed, e.idempotency_key)
        .outerjoin(r, and_(r.subject_kind == "alert", r.subject_id == a.alert_id))
        .outerjoin(e, and_(e.event_id == a.event_id, e.node_id == a.node_id, e.site_id == a.site_id))
        .where(*conditions)
        .order_by(a.raised_at.desc(), a.alert_id.desc())
        .limit(limit + 1)
    )
    rows = session.execute(stmt).all()
    items = [
        QueuedAlert(
            alert=alert_view(alert, sealer=sealer),
            part_id=open_part_id(
                sealer, sealed, node_id=alert.node_id, key=key, category="inspection_events"
            ),
            review=None if review is None else ReviewItemView.of(review),
        )
        for alert, review, sealed, key in rows[:limit]
    ]
    last = rows[limit - 1][0] if len(rows) > limit else None
    cursor = None if last is None else PageCursor(before_raised_at=last.raised_at, before_id=last.alert_id)
    return AlertPage(items=items, next=cursor)
