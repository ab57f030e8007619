"""What the auditors' routes read: entries by sequence, name prefix or actor, and checkpoints.

Keyword-only functions taking a session; the routes in :mod:`.views` stay thin.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

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
) -> list[Entry]:
    """Newest first (older than ``before_seq``), or oldest first after ``after_seq``."""
    stmt = select(AuditEntryRow)
    if name_prefix:
        stmt = stmt.where(AuditEntryRow.name.startswith(name_prefix, autoescape=True))
    if actor:
        stmt = stmt.where(AuditEntryRow.actor == actor)
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
