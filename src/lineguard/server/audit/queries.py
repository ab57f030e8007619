"""What the auditors' routes read: entries by sequence, name prefix, actor or time, and checkpoints.

Keyword-only functions taking a session; the routes in :mod:`.views` stay thin.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import not_, select
from sqlalchemy.orm import Session

from lineguard.contracts.errors import InputError
from lineguard.server.audit.models import AuditCheckpointRow, AuditEntryRow
from lineguard.server.audit.records import Checkpoint, Entry

__all__ = ["list_checkpoints", "list_entries"]


def list_entries(
    session: Session,
    *,
    limit: int,
    before_seq: int | None = None,
    after_seq: int | None = None,
    name_prefix: str | None = None,
    actor: str | None = None,
    exclude: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Entry]:
    """Newest first (older than ``before_seq``), or oldest first after ``after_seq``.

    ``exclude`` leaves out names starting with any of its prefixes (``ingest.`` hides
    the machine's batch entries so people's actions show); ``since``/``until`` bound
    ``recorded_at`` (``[since, until)``).
    """
    if since is not None and until is not None and since >= until:
        msg = f"since ({since.isoformat()}) must be before until ({until.isoformat()})"
        raise InputError(msg)
    stmt = select(AuditEntryRow)
    if name_prefix:
        stmt = stmt.where(AuditEntryRow.name.startswith(name_prefix, autoescape=True))
    if actor:
        stmt = stmt.where(AuditEntryRow.actor == actor)
    for prefix in exclude:
        if prefix:
            stmt = stmt.where(not_(AuditEntryRow.name.startswith(prefix, autoescape=True)))
    if since is not None:
        stmt = stmt.where(AuditEntryRow.recorded_at >= since)
    if until is not None:
        stmt = stmt.where(AuditEntryRow.recorded_at < until)
    if after_seq is not None:
        stmt = stmt.where(AuditEntryRow.seq > after_seq).order_by(AuditEntryRow.seq)
    else:
        if before_seq is not None:
            stmt = stmt.where(AuditEntryRow.seq < before_seq)
        stmt = stmt.order_by(AuditEntryRow.seq.desc())
    return [Entry.from_row(r) for r in session.scalars(stmt.limit(limit))]


def list_checkpoints(session: Session, *, site_id: str) -> list[Checkpoint]:
    """Every signed checkpoint, oldest first."""
    rows = session.scalars(select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq))
    return [Checkpoint.from_row(r, site_id=site_id) for r in rows]
