"""The durable queue of line-day snapshots (``enterprise_outbox``): keyword-only functions taking a session.

:func:`refresh` recounts the look-back window and bumps a row's ``revision`` only when
its counts changed, so a recount that finds nothing new queues nothing. :func:`due` picks
what to send; :func:`mark_sent` records an acknowledgement of exactly the revision sent
(a recount in between leaves the row due); :func:`mark_failed` backs the rows off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from lineguard.contracts.enterprise import LineDayAggregate
from lineguard.server.enterprise.aggregate import count_line_days, day_start
from lineguard.server.enterprise.models import EnterpriseOutboxRow

__all__ = ["QueueStatus", "Snapshot", "due", "mark_failed", "mark_sent", "queue_status", "refresh"]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One queued line-day as it will be sent, and the revision an acknowledgement settles."""

    line_id: str
    day: datetime
    revision: int
    message: LineDayAggregate


@dataclass(frozen=True, slots=True)
class QueueStatus:
    line_days: int
    due: int
    last_error: str | None
    next_attempt_at: datetime | None


def refresh(session: Session, *, site_id: str, now: datetime, lookback_days: int) -> int:
    """Recount the last ``lookback_days`` days (today included); the number of line-days queued anew.

    Acknowledged rows of days before the window are deleted: they are never recounted, so
    nothing about them can change or be sent again (unacknowledged ones stay until sent).
    """
    today = now.date()
    o = EnterpriseOutboxRow
    window_start = day_start(today - timedelta(days=lookback_days - 1))
    session.execute(delete(o).where(o.day < window_start, o.sent_revision >= o.revision))
    counts = count_line_days(
        session, site_id=site_id, first_day=today - timedelta(days=lookback_days - 1), last_day=today
    )
    rows = {
        (r.line_id, r.day.date()): r
        for r in session.scalars(
            select(EnterpriseOutboxRow)
            .where(EnterpriseOutboxRow.day >= day_start(today - timedelta(days=lookback_days - 1)))
            .with_for_update()
        )
    }
    queued = 0
    for c in counts:
        digest = c.digest()
        row = rows.get((c.line_id, c.day))
        if row is not None and row.digest == digest:
            continue
        revision = 1 if row is None else row.revision + 1
        payload = c.message(revision).model_dump(mode="json")
        if row is None:
            session.add(
                EnterpriseOutboxRow(
                    line_id=c.line_id,
                    day=day_start(c.day),
                    revision=revision,
                    sent_revision=0,
                    digest=digest,
                    payload=payload,
                    updated_at=now,
                    attempts=0,
                    next_attempt_at=now,
                )
            )
        else:
            row.revision, row.digest, row.payload, row.updated_at = revision, digest, payload, now
            if row.attempts == 0:
                row.next_attempt_at = now  # keep a backed-off row's wait: the roll-up is still failing
        queued += 1
    return queued


def due(session: Session, *, now: datetime, limit: int) -> list[Snapshot]:
    """Up to ``limit`` unacknowledged line-days whose wait has passed, oldest day first."""
    o = EnterpriseOutboxRow
    rows = session.scalars(
        select(o)
        .where(o.sent_revision < o.revision, o.next_attempt_at <= now)
        .order_by(o.day, o.line_id)
        .limit(limit)
    ).all()
    return [
        Snapshot(
            line_id=r.line_id,
            day=r.day,
            revision=r.revision,
            message=LineDayAggregate.model_validate(r.payload),
        )
        for r in rows
    ]


def _rows(session: Session, snapshots: list[Snapshot]) -> list[tuple[Snapshot, EnterpriseOutboxRow]]:
    found = []
    for s in snapshots:
        row = session.get(EnterpriseOutboxRow, (s.line_id, s.day), with_for_update=True)
        if row is not None:
            found.append((s, row))
    return found


def mark_sent(session: Session, snapshots: list[Snapshot], *, now: datetime) -> None:
    """The roll-up acknowledged these revisions (a newer one queued meanwhile stays due)."""
    for s, row in _rows(session, snapshots):
        row.sent_revision = max(row.sent_revision, s.revision)
        row.attempts, row.last_error, row.next_attempt_at = 0, None, now


def mark_failed(
    session: Session, snapshots: list[Snapshot], *, now: datetime, error: str, wait_s: float
) -> None:
    for _s, row in _rows(session, snapshots):
        row.attempts += 1
        row.last_error = error[:500]
        row.next_attempt_at = now + timedelta(seconds=wait_s)


def queue_status(session: Session) -> QueueStatus:
    o = EnterpriseOutboxRow
    total = session.scalar(select(func.count()).select_from(o)) or 0
    pending = session.scalar(select(func.count()).select_from(o).where(o.sent_revision < o.revision)) or 0
    failing = session.scalars(
        select(o).where(o.last_error.is_not(None)).order_by(o.next_attempt_at.desc()).limit(1)
    ).first()
    return QueueStatus(
        line_days=total,
        due=pending,
        last_error=None if failing is None else failing.last_error,
        next_attempt_at=None if failing is None else failing.next_attempt_at,
    )
