"""Retention: sweep expired records per category, honour legal holds, record every sweep.

:func:`run_sweep` walks the registry. For each category it deletes (or clears) records
older than the configured days, in batches of ``batch_size`` committed one by one so
locks stay short, skipping every record under an active legal hold. On PostgreSQL the
event, alert and audit tables are partitioned by month: a sweep first creates the months
ahead (:func:`lineguard.server.storage.ensure_partitions`), and a month that ended before
the cutoff and holds no record under legal hold has its data keys shredded in one
statement and is then dropped whole; a month with a held record is swept row by row. Rows with sealed
fields lose their data keys in the same transaction: that is the crypto-shredding
that also makes copies in older backups unreadable. Inspection events' part ids share
one key per line and hour (``lineguard.server.keystore.buckets``): a bucket's key goes
when its whole hour has expired and none of its records is under legal hold, with its
month's partition or, row by row, after the category's records. The audit log's own retention
(:func:`lineguard.server.audit.prune`) runs last. Each sweep is a row in
``retention_sweeps`` and an entry ``retention.sweep`` in the audit log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, Table, and_, column, delete, exists, func, select, table, update
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import RetentionConfig
from lineguard.contracts.audit import AuditPruned, LegalHoldPlaced, LegalHoldReleased, RetentionSweep
from lineguard.contracts.errors import ConflictError, InputError, NotFoundError
from lineguard.contracts.ids import new_id
from lineguard.server.audit import prune as prune_audit
from lineguard.server.audit import record
from lineguard.server.keystore import SqlDataKeyStore, hour_bucket, shred_expired_buckets
from lineguard.server.retention.models import LegalHoldRow, RetentionSweepRow
from lineguard.server.retention.policy import effective_policy
from lineguard.server.retention.registry import CATEGORIES, RetentionCategory, category
from lineguard.server.storage import (
    PARTITION_SCHEMA,
    Base,
    drop_partition,
    ensure_partitions,
    month_partitions,
    partition_key,
)

__all__ = ["SweepResult", "list_holds", "list_sweeps", "place_hold", "release_hold", "run_sweep"]

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    sweep_id: str
    deleted: dict[str, int] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)
    keys_shredded: int = 0
    skipped: list[str] = field(default_factory=list)


def _held(cat: RetentionCategory) -> Select[str]:
    return select(LegalHoldRow.record_id).where(
        LegalHoldRow.category == cat.name, LegalHoldRow.released_at.is_(None)
    )


def _expire(
    session: Session, cat: RetentionCategory, table: Table, cutoff: datetime, batch_size: int
) -> tuple[int, int]:
    """One batch of one category: (records expired, data keys shredded)."""
    time_col, hold_col = table.c[cat.time_column], table.c[cat.hold_column]
    pk = list(table.primary_key.columns)
    if len(pk) != 1:
        msg = f"retention category {cat.name}: table {table.name} needs a single-column primary key"
        raise InputError(msg)
    conditions = [time_col < cutoff, hold_col.not_in(_held(cat))]
    if cat.clear_column is not None:
        conditions.append(table.c[cat.clear_column].is_not(None))
    id_cols = [table.c[c] for c in cat.object_id_columns]
    rows = session.execute(
        select(*pk, *id_cols).where(and_(*conditions)).order_by(time_col).limit(batch_size)
    ).all()
    if not rows:
        return 0, 0
    keys = [tuple(r[: len(pk)]) for r in rows]
    shredded = 0
    if cat.sealed_category is not None and id_cols:
        object_ids = [":".join(str(v) for v in r[len(pk) :]) for r in rows]
        shredded = SqlDataKeyStore.bound(session).delete_objects(cat.sealed_category, object_ids)
    where = pk[0].in_([k[0] for k in keys])
    if cat.clear_column is not None:
        session.execute(update(table).where(where).values({cat.clear_column: None}))
    else:
        if cat.before_delete is not None:
            cat.before_delete(session, [k[0] for k in keys])
        session.execute(delete(table).where(where))
    return len(rows), shredded


def _drop_expired_months(
    session: Session, cat: RetentionCategory, source: Table, cutoff: datetime
) -> tuple[int, int]:
    """PostgreSQL: every month of ``source`` that ended before ``cutoff`` and holds no
    record under legal hold is crypto-shredded, then dropped; (records, keys) gone."""
    connection = session.connection()
    if cat.clear_column is not None or partition_key(connection, source.name) is None:
        return 0, 0
    expired = shredded = 0
    for month in month_partitions(connection, source.name):
        if month.end > cutoff:
            break
        columns = {cat.hold_column, *cat.object_id_columns}
        part = table(month.name, *(column(c) for c in columns), schema=PARTITION_SCHEMA)
        if session.scalar(select(exists().where(part.c[cat.hold_column].in_(_held(cat))))):
            continue  # a held record: the row-by-row pass keeps it and expires the rest
        if cat.sealed_category is not None and cat.object_id_columns:
            ids = select(func.concat_ws(":", *(part.c[c] for c in cat.object_id_columns)))
            shredded += SqlDataKeyStore.bound(session).delete_selected(cat.sealed_category, ids)
        if cat.sealed_category is not None and cat.bucket_columns:
            # Hour buckets never span two months: every bucket of this month has expired.
            shredded += shred_expired_buckets(
                session, cat.sealed_category, cutoff=month.end, since=month.start
            )
        expired += drop_partition(connection, month)
    return expired, shredded


def _shred_buckets(session: Session, cat: RetentionCategory, table: Table, cutoff: datetime) -> int:
    """Shred the keys of ``cat``'s hour buckets that ended before ``cutoff``, except the
    buckets of records under legal hold (their bucket's other records, deleted from the
    database, stay readable in backups until the hold ends)."""
    if cat.sealed_category is None or not cat.bucket_columns:
        return 0
    site, line = (table.c[c] for c in cat.bucket_columns)
    time_col = table.c[cat.time_column]
    held = session.execute(
        select(site, line, time_col).where(time_col < cutoff, table.c[cat.hold_column].in_(_held(cat)))
    ).all()
    keep = {hour_bucket(s, ln, at) for s, ln, at in held}
    return shred_expired_buckets(session, cat.sealed_category, cutoff=cutoff, keep=keep)


def _count_held(session: Session, cat: RetentionCategory, table: Table, cutoff: datetime) -> int:
    conditions = [table.c[cat.time_column] < cutoff, table.c[cat.hold_column].in_(_held(cat))]
    if cat.clear_column is not None:
        conditions.append(table.c[cat.clear_column].is_not(None))
    return int(session.scalar(select(func.count()).select_from(table).where(and_(*conditions))) or 0)


def run_sweep(
    sessions: sessionmaker[Session],
    config: RetentionConfig,
    *,
    now: datetime | None = None,
    trigger: str = "scheduled",
    actor: str = "system:retention",
    batch_size: int = 1000,
) -> SweepResult:
    """Expire what is older than its category's retention; return what was done."""
    moment = now or datetime.now(UTC)
    result = SweepResult(sweep_id=new_id("swp"))
    with sessions.begin() as session:
        config = effective_policy(session, config)  # server.yaml plus changes made through the API
        session.add(
            RetentionSweepRow(
                sweep_id=result.sweep_id,
                started_at=moment,
                status="running",
                trigger=trigger,
                deleted={},
                held={},
            )
        )
    try:
        with sessions.begin() as session:
            created = ensure_partitions(session.connection(), now=moment)
        if created:
            log.info("retention sweep %s: created partitions %s", result.sweep_id, created)
        for cat in CATEGORIES.values():
            source = Base.metadata.tables.get(cat.table)
            if source is None:
                result.skipped.append(cat.name)
                continue
            cutoff = moment - timedelta(days=cat.days(config))
            with sessions.begin() as session:
                total, shredded = _drop_expired_months(session, cat, source, cutoff)
            result.keys_shredded += shredded
            while True:
                with sessions.begin() as session:
                    expired, shredded = _expire(session, cat, source, cutoff, batch_size)
                total, result.keys_shredded = total + expired, result.keys_shredded + shredded
                if expired < batch_size:
                    break
            with sessions.begin() as session:
                result.keys_shredded += _shred_buckets(session, cat, source, cutoff)
            with sessions() as session:
                result.held[cat.name] = _count_held(session, cat, source, cutoff)
            result.deleted[cat.name] = total
        with sessions.begin() as session:
            pruned = prune_audit(session, retention_days=config.audit_log_days, now=moment)
            result.deleted["audit_log"] = pruned.deleted
            if pruned.deleted:
                record(
                    session,
                    AuditPruned(through_seq=pruned.through_seq, retention_days=config.audit_log_days),
                    actor=actor,
                )
    except Exception as exc:
        with sessions.begin() as session:
            row = session.get(RetentionSweepRow, result.sweep_id)
            if row is not None:
                row.status, row.finished_at = "failed", datetime.now(UTC)
                row.error = f"{type(exc).__name__}: {str(exc)[:500]}"
                row.deleted, row.held = dict(result.deleted), dict(result.held)
        raise
    with sessions.begin() as session:
        row = session.get(RetentionSweepRow, result.sweep_id)
        assert row is not None  # noqa: S101 - inserted above
        row.status, row.finished_at = "ok", datetime.now(UTC)
        row.deleted, row.held, row.keys_shredded = (
            dict(result.deleted),
            dict(result.held),
            result.keys_shredded,
        )
        record(
            session,
            RetentionSweep(
                sweep_id=result.sweep_id,
                deleted=result.deleted,
                held={k: v for k, v in result.held.items() if v},
                keys_shredded=result.keys_shredded,
            ),
            actor=actor,
        )
    log.info("retention sweep %s: deleted %s, held %s", result.sweep_id, result.deleted, result.held)
    return result


#: ``audit(session, event, actor=...)``: the server's audit hook, or ``record`` itself.
AuditHook = Callable[..., object]


def place_hold(
    session: Session,
    *,
    category_name: str,
    record_id: str,
    reason: str,
    actor: str,
    audit: AuditHook = record,
) -> LegalHoldRow:
    """Exempt one named record from deletion until released; audited and committed."""
    category(category_name)
    if not reason.strip():
        msg = "a legal hold needs a reason (case or ticket reference)"
        raise InputError(msg)
    existing = session.scalar(
        select(LegalHoldRow).where(
            LegalHoldRow.category == category_name,
            LegalHoldRow.record_id == record_id,
            LegalHoldRow.released_at.is_(None),
        )
    )
    if existing is not None:
        msg = f"{category_name}/{record_id} is already under legal hold {existing.hold_id}"
        raise ConflictError(msg)
    hold = LegalHoldRow(
        hold_id=new_id("hold"),
        category=category_name,
        record_id=record_id,
        reason=reason,
        placed_by=actor,
        placed_at=datetime.now(UTC),
    )
    session.add(hold)
    audit(
        session,
        LegalHoldPlaced(
            hold_id=hold.hold_id, category=category_name, record_id=record_id, reason=reason[:500]
        ),
        actor=actor,
    )
    session.commit()
    return hold


def release_hold(
    session: Session, *, hold_id: str, reason: str, actor: str, audit: AuditHook = record
) -> LegalHoldRow:
    """End a legal hold; the record ages out normally from the next sweep. Audited and committed."""
    hold = session.get(LegalHoldRow, hold_id)
    if hold is None:
        msg = f"no legal hold {hold_id}"
        raise NotFoundError(msg)
    if hold.released_at is not None:
        msg = f"legal hold {hold_id} was already released at {hold.released_at:%Y-%m-%dT%H:%M:%SZ}"
        raise ConflictError(msg)
    hold.released_at, hold.released_by, hold.release_reason = datetime.now(UTC), actor, reason
    audit(session, LegalHoldReleased(hold_id=hold_id, reason=reason[:500]), actor=actor)
    session.commit()
    return hold


def list_sweeps(session: Session, *, limit: int) -> list[RetentionSweepRow]:
    """The most recent sweeps, newest first."""
    stmt = select(RetentionSweepRow).order_by(RetentionSweepRow.started_at.desc()).limit(limit)
    return list(session.scalars(stmt))


def list_holds(session: Session, *, limit: int) -> list[LegalHoldRow]:
    """Legal holds, newest first (released ones included)."""
    return list(session.scalars(select(LegalHoldRow).order_by(LegalHoldRow.placed_at.desc()).limit(limit)))
