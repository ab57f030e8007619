"""The one way into the audit log: ``record(session, event, actor=...)``.

Every writer of the server calls :func:`record` inside its own transaction, so an
audited action and its audit entry commit together or not at all. Appends are
serialised on the ``audit_chain_head`` row, so concurrent writers can never fork the
chain: PostgreSQL takes ``SELECT … FOR UPDATE`` on it; SQLite's first statement is an
``UPDATE`` of it, which takes the database's write lock for the rest of the
transaction (what ``BEGIN IMMEDIATE`` would do, without reopening the connection).

Cost: claim the next seq (``UPDATE … RETURNING``, which takes the lock), then write the
entry and the new head: one statement on PostgreSQL (the insert as a data-modifying
CTE of the head update), two on SQLite. Ingest audits one entry per batch, not per event.
``checkpoint.create_checkpoint`` signs the Merkle root; :func:`prune` drops entries
older than the audit retention, but only up to a signed checkpoint, from which
verification then starts (on PostgreSQL a month wholly inside the prune is dropped as
a partition). Each append is noted for this process's ``ChainWitness``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from lineguard.contracts.audit import ACTOR_PATTERN, AuditEvent
from lineguard.contracts.errors import InputError
from lineguard.contracts.ids import new_id
from lineguard.crypto import canonical_json, utc_text
from lineguard.server.audit.chain import MerkleFrontier, entry_hash
from lineguard.server.audit.models import AuditChainHeadColumns, AuditCheckpointRow, AuditEntryRow
from lineguard.server.audit.records import Entry
from lineguard.server.audit.tables import ENTRY_FIELDS, PLANT_AUDIT, AuditTables
from lineguard.server.audit.witness import note_append
from lineguard.server.storage import (
    driver_execute,
    drop_partition,
    insert_rows,
    month_partitions,
    partition_key,
)

__all__ = ["CHECKPOINT_FORMAT", "checkpoint_statement", "lock_head", "prune", "record"]

CHECKPOINT_FORMAT = "lineguard-audit-checkpoint/v1"
_ACTOR = re.compile(ACTOR_PATTERN)
_LOG = PLANT_AUDIT.entry_table


def lock_head(session: Session, *, tables: AuditTables = PLANT_AUDIT) -> AuditChainHeadColumns:
    """The chain head, locked against every other appender until this transaction ends."""
    head_row = tables.head
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(head_row).where(head_row.id == 1).values(seq=head_row.seq))
    head = session.scalars(
        select(head_row).where(head_row.id == 1).with_for_update().execution_options(populate_existing=True)
    ).one_or_none()
    if head is None:
        msg = "the audit chain head is missing: run the database migrations (upgrade head)"
        raise InputError(msg)
    return head


#: Why the statements are shaped so (built once per log, ``tables.AuditTables.statements``):
#: PostgreSQL appends the entry and advances the head in one round trip (the insert as a
#: data-modifying CTE of the head update); SQLite runs the three statements as driver
#: SQL, since SQLAlchemy's per-execution work for a Core statement (~0.1 ms each, cached
#: compile or not) was most of an ingest batch's audit cost there. The entry row goes
#: through ``insert_rows``, which converts ``recorded_at`` exactly as the column type does.


def _claim_next(connection: Connection, tables: AuditTables) -> tuple[int, str, str]:
    """Lock the chain head for this transaction and claim the next seq: (seq, prev_hash, frontier).

    One ``UPDATE … RETURNING``: on PostgreSQL it takes the head row's lock, on SQLite
    the database write lock, either way until the caller's transaction ends.
    """
    if connection.dialect.name == "sqlite":
        rows = driver_execute(connection, tables.statements.sqlite_claim)
        row = rows[0] if rows else None
    else:
        row = connection.execute(tables.statements.claim).one_or_none()
    if row is None:
        msg = "the audit chain head is missing: run the database migrations (upgrade head)"
        raise InputError(msg)
    return int(row[0]), str(row[1]), str(row[2])


def record(
    session: Session,
    event: AuditEvent,
    *,
    actor: str,
    now: datetime | None = None,
    tables: AuditTables = PLANT_AUDIT,
) -> Entry:
    """Append ``event`` to the chain in ``session``'s transaction (the caller commits).

    ``actor`` is ``kind:name``: ``user:alice``, ``node:line1-cam``, ``system:retention``,
    ``cli:keys``. Two statements on PostgreSQL, three on SQLite, no ORM: cheap enough to
    audit every ingest batch.
    """
    if not _ACTOR.match(actor):
        msg = f"audit actor must look like 'user:alice' or 'system:retention', got {actor[:80]!r}"
        raise InputError(msg)
    if not event.event_name:
        msg = f"{type(event).__name__} is not a concrete audit event (it has no event_name)"
        raise InputError(msg)
    payload = canonical_json(event.model_dump(mode="json")).decode("utf-8")
    moment = now or datetime.now(UTC)
    connection = session.connection()
    seq, prev_hash, frontier_json = _claim_next(connection, tables)
    entry = Entry(
        seq=seq,
        event_id=new_id("aud"),
        recorded_at=utc_text(moment),
        name=event.event_name,
        actor=actor,
        outcome=event.outcome,
        payload=payload,
        prev_hash=prev_hash,
        entry_hash="",
    )
    digest = entry_hash(
        seq=seq,
        event_id=entry.event_id,
        recorded_at=entry.recorded_at,
        name=entry.name,
        actor=actor,
        outcome=entry.outcome,
        payload=payload,
        prev_hash=prev_hash,
    )
    entry = replace(entry, entry_hash=digest)
    frontier = MerkleFrontier.from_json(frontier_json)
    frontier.append_entry(digest)
    if connection.dialect.name == "postgresql":
        appended = {f"entry_{f}": getattr(entry, f) for f in ENTRY_FIELDS} | {"entry_recorded_at": moment}
        advanced = {"head_entry_hash": digest, "head_frontier": frontier.to_json()}
        connection.execute(tables.statements.append_and_advance, appended | advanced)
    else:
        row = {f: getattr(entry, f) for f in ENTRY_FIELDS} | {"recorded_at": moment}
        insert_rows(session, tables.entry_table, [row])
        driver_execute(connection, tables.statements.sqlite_advance, (digest, frontier.to_json()))
    note_append(session, seq, digest)
    return entry


def checkpoint_statement(
    *, seq: int, entry_hash: str, merkle_root: str, created_at: str, key_id: str, site_id: str
) -> bytes:
    """The exact bytes a checkpoint signature covers."""
    return canonical_json(
        {
            "format": CHECKPOINT_FORMAT,
            "site_id": site_id,
            "seq": seq,
            "entry_hash": entry_hash,
            "merkle_root": merkle_root,
            "created_at": created_at,
            "key_id": key_id,
        }
    )


@dataclass(frozen=True)
class PruneResult:
    through_seq: int
    deleted: int


def prune(session: Session, *, retention_days: int, now: datetime | None = None) -> PruneResult:
    """Delete entries older than ``retention_days``, up to the newest signed checkpoint that allows it.

    Verification of the remaining log then starts from that checkpoint (its entry
    hash and Merkle frontier), so pruning never breaks the chain. The checkpoint must
    itself be signed before the cutoff: the verifier proves a prune by the checkpoint's
    signed time being older than the retention (a cut of recent entries cannot be
    passed off as a prune). The caller records ``audit.pruned`` in the same transaction.
    """
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    head = lock_head(session)
    candidate = session.scalar(
        select(func.max(AuditCheckpointRow.seq)).where(
            AuditCheckpointRow.seq > head.base_seq,
            AuditCheckpointRow.created_at < cutoff,
            AuditCheckpointRow.seq.in_(select(AuditEntryRow.seq).where(AuditEntryRow.recorded_at < cutoff)),
        )
    )
    if candidate is None:
        return PruneResult(head.base_seq, 0)
    dropped = _drop_pruned_months(session, through_seq=candidate, cutoff=cutoff)
    result = session.execute(delete(AuditEntryRow).where(AuditEntryRow.seq <= candidate))
    head.base_seq = candidate
    session.flush()
    return PruneResult(candidate, dropped + int(getattr(result, "rowcount", 0) or 0))


def _drop_pruned_months(session: Session, *, through_seq: int, cutoff: datetime) -> int:
    """PostgreSQL: drop each past month of the log whose entries all fall in the prune
    (``seq <= through_seq``) whole, instead of deleting its rows one by one; what the
    verifier needs (the checkpoint at ``through_seq`` and every later entry) stays."""
    connection = session.connection()
    if partition_key(connection, _LOG.name) is None:
        return 0
    dropped = 0
    for month in month_partitions(connection, _LOG.name):
        if month.end > cutoff:
            break
        newest = connection.execute(text(f"SELECT max(seq) FROM {month.qualified}")).scalar()  # noqa: S608
        if newest is None or newest <= through_seq:
            dropped += drop_partition(connection, month)
    return dropped
