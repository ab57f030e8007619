"""The roll-up's own audit log: a hash chain like the plant's, appended in the audited transaction.

``record(session, event, actor=...)`` takes typed events from ``contracts.audit`` (the
``enterprise.*`` ones), claims the next ``seq`` by updating the head row first (a row
lock on PostgreSQL, the write lock on SQLite, so appends never fork the chain), and
stores the entry hashed with the plant's :func:`~lineguard.server.audit.entry_hash`.
:func:`verify_chain` re-walks it and raises :class:`AuditChainError` naming the first
entry whose hash is not what it should be.
"""

from __future__ import annotations

import re

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lineguard.contracts.audit import ACTOR_PATTERN, AuditEvent
from lineguard.contracts.errors import AuditChainError, InputError
from lineguard.contracts.ids import new_id
from lineguard.crypto import canonical_json, utc_text
from lineguard.enterprise.models import GENESIS, AuditHeadRow, AuditRow
from lineguard.server.audit import entry_hash
from lineguard.server.storage import utcnow

__all__ = ["record", "verify_chain"]


_ACTOR = re.compile(ACTOR_PATTERN)


def record(session: Session, event: AuditEvent, *, actor: str) -> AuditRow:
    if not _ACTOR.match(actor):
        msg = f"audit actor {actor!r} does not match {ACTOR_PATTERN}"
        raise InputError(msg)
    claimed = session.execute(
        update(AuditHeadRow)
        .where(AuditHeadRow.id == 1)
        .values(seq=AuditHeadRow.seq + 1)
        .returning(AuditHeadRow.seq, AuditHeadRow.entry_hash)
    ).one()
    seq, prev_hash = int(claimed[0]), str(claimed[1])
    now = utcnow()
    payload = canonical_json(event.model_dump(mode="json", exclude={"outcome"})).decode()
    row = AuditRow(
        seq=seq,
        event_id=new_id("aud"),
        recorded_at=now,
        name=event.event_name,
        actor=actor,
        outcome=event.outcome,
        payload=payload,
        prev_hash=prev_hash,
    )
    row.entry_hash = _hash(row)
    session.add(row)
    session.execute(update(AuditHeadRow).where(AuditHeadRow.id == 1).values(entry_hash=row.entry_hash))
    session.flush()
    return row


def _hash(row: AuditRow) -> str:
    return entry_hash(
        seq=row.seq,
        event_id=row.event_id,
        recorded_at=utc_text(row.recorded_at),
        name=row.name,
        actor=row.actor,
        outcome=row.outcome,
        payload=row.payload,
        prev_hash=row.prev_hash,
    )


def verify_chain(session: Session) -> int:
    """The number of entries, all linked and hashed as recorded; :class:`AuditChainError` if not."""
    prev, expected_seq = GENESIS, 1
    for row in session.scalars(select(AuditRow).order_by(AuditRow.seq)):
        if row.seq != expected_seq:
            msg = f"audit entry {expected_seq} is missing: the next entry is {row.seq}"
            raise AuditChainError(msg)
        if row.prev_hash != prev:
            msg = (
                f"audit entry {row.seq} links to {row.prev_hash[:16]}…, "
                f"but entry {row.seq - 1} hashes to {prev[:16]}…"
            )
            raise AuditChainError(msg)
        actual = _hash(row)
        if actual != row.entry_hash:
            msg = (
                f"audit entry {row.seq} records hash {row.entry_hash[:16]}…, "
                f"but its fields hash to {actual[:16]}…"
            )
            raise AuditChainError(msg)
        prev, expected_seq = row.entry_hash, expected_seq + 1
    head = session.get(AuditHeadRow, 1)
    if head is None or head.seq != expected_seq - 1 or head.entry_hash != prev:
        named = head.seq if head else "?"
        msg = f"the audit head names entry {named}, but the chain ends at {expected_seq - 1}"
        raise AuditChainError(msg)
    return expected_seq - 1
