"""Reading the roll-up queue for the plant's own people (keyword-only functions taking a session)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from lineguard.config.server import ServerConfig
from lineguard.server.enterprise.queue import due, queue_status
from lineguard.server.enterprise.schemas import RollupStatus

__all__ = ["PREVIEW_LINE_DAYS", "rollup_status"]

#: Unacknowledged snapshots shown on the status route.
PREVIEW_LINE_DAYS = 50


def rollup_status(session: Session, *, settings: ServerConfig) -> RollupStatus:
    config = settings.enterprise
    status = queue_status(session)
    pending = due(session, now=datetime.max.replace(tzinfo=UTC), limit=PREVIEW_LINE_DAYS)
    return RollupStatus(
        enabled=config.enabled,
        destination=config.url,
        plant_id=config.plant_id or settings.site_id,
        line_days_queued=status.line_days,
        line_days_unacknowledged=status.due,
        last_error=status.last_error,
        next_attempt_at=status.next_attempt_at,
        unacknowledged=[s.message for s in pending],
    )
