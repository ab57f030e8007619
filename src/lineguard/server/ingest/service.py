"""Store what a node sends: authorise, deduplicate, seal, roll up, audit.

Whole-batch atomicity: a batch is stored entirely or not at all. Contract checks run
before this module; here every item must belong to the authenticated node's site,
line and enrolled cameras, and one foreign item rejects the batch with a 403 whose
details name every offending item. Nothing of a rejected batch is stored, and nothing
is lost either: the node keeps the batch in its outbox until it is acknowledged.

Idempotency: each item is stored at most once per ``(node_id, idempotency_key)``.
Batches of one node are serialised by a row lock on the node's counters, so checking
which keys exist is exact; a unique constraint (``ON CONFLICT DO NOTHING`` + a row
count check) backs it up. Keys already present are counted as duplicates; a retried
batch is acknowledged exactly like the first delivery.

The hourly rollup is updated in the same transaction, from the rows actually inserted,
so rollup counts always equal the raw table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lineguard.contracts.audit import IngestBatchAccepted, IngestBatchRejected
from lineguard.contracts.errors import ConflictError, PermissionDeniedError
from lineguard.contracts.events import Alert, IngestBatch, InspectionEvent, NodeHeartbeat, WorkOrderTrigger
from lineguard.contracts.ids import new_id
from lineguard.server.context import AuditHook, Sealer
from lineguard.server.ingest.models import (
    ALL_PARTS,
    AlertRow,
    CameraHealthRow,
    IngestCounters,
    InspectionEventRow,
    NodeHealthRow,
    RollupHourly,
    WorkOrderRow,
)
from lineguard.server.ingest.schemas import HeartbeatReceipt, IngestReceipt
from lineguard.server.nodes.service import NodeIdentity, emit
from lineguard.server.protection import staged_sealer

__all__ = ["authorize_batch", "ingest_batch", "record_heartbeat", "record_rejection"]

_Item = TypeVar("_Item", InspectionEvent, Alert, WorkOrderTrigger)

_VERDICT_COLUMN = {"pass": "passed", "fail": "failed", "uncertain": "uncertain"}


def _insert(session: Session, table: Table) -> Any:
    """The dialect's INSERT, which has ``on_conflict_do_nothing/do_update``."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def authorize_batch(node: NodeIdentity, batch: IngestBatch) -> None:
    """Raise 403 unless every item is the node's own (site, line, enrolled camera)."""
    problems: list[str] = []
    if batch.node_id != node.node_id:
        problems.append(f"node_id: batch is for {batch.node_id!r}, the certificate is {node.node_id!r}")

    def check(where: str, site_id: str, line_id: str, camera_id: str | None) -> None:
        if site_id != node.site_id:
            problems.append(f"{where}.site_id: {site_id!r} is not this node's site {node.site_id!r}")
        if line_id != node.line_id:
            problems.append(f"{where}.line_id: {line_id!r} is not this node's line {node.line_id!r}")
        if camera_id is not None and camera_id not in node.camera_ids:
            problems.append(f"{where}.camera_id: {camera_id!r} is not enrolled for node {node.node_id!r}")

    for i, event in enumerate(batch.events):
        check(f"events[{i}]", event.site_id, event.line_id, event.camera_id)
    for i, alert in enumerate(batch.alerts):
        check(f"alerts[{i}]", alert.site_id, alert.line_id, alert.camera_id)
    for i, order in enumerate(batch.work_orders):
        check(f"work_orders[{i}]", order.site_id, order.line_id, None)
    if problems:
        msg = f"batch refused: {len(problems)} item(s) are not node {node.node_id}'s to write"
        raise PermissionDeniedError(msg, details=problems[:50])


def _first_per_key(items: Sequence[_Item]) -> list[_Item]:
    seen: dict[str, _Item] = {}
    for item in items:
        seen.setdefault(item.idempotency_key, item)
    return list(seen.values())


def _existing_keys(session: Session, model: Any, node_id: str, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    # One expanding parameter instead of a literal per key: the statement is built and
    # compiled once, not once per batch with a hundred coerced values.
    stmt = select(model.idempotency_key).where(
        model.node_id == bindparam("node_id"), model.idempotency_key.in_(bindparam("keys", expanding=True))
    )
    return set(session.scalars(stmt, {"node_id": node_id, "keys": keys}))


def _insert_new(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert rows that the node's lock and the pre-check say are new.

    A plain executemany (no RETURNING): each row is one short statement the driver
    prepares once (psycopg pipelines them), instead of one statement with thousands of
    parameters re-parsed for every batch. The unique constraint still guards; should a
    row already exist after all, the batch is refused (409) and the node's retry sees it.
    """
    if not rows:
        return
    stmt = _insert(session, model.__table__).on_conflict_do_nothing(
        index_elements=["node_id", "idempotency_key"]
    )
    result = session.execute(stmt, rows)
    if result.rowcount not in (-1, len(rows)):  # type: ignore[attr-defined]
        msg = f"{len(rows) - result.rowcount} item(s) were stored concurrently; retry the batch"  # type: ignore[attr-defined]
        raise ConflictError(msg)


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _roll_up(session: Session, events: list[InspectionEvent]) -> None:
    counts: Counter[tuple[str, str, str, str, datetime, str, int, str]] = Counter()
    for event in events:
        verdict = _VERDICT_COLUMN[event.verdict.value]
        model = (event.model.model_id, event.model.version)
        base = (event.site_id, event.line_id, event.camera_id)
        hour = _hour(event.captured_at)
        counts[(*base, ALL_PARTS, hour, *model, verdict)] += 1
        for defect_class in {r.defect_class for r in event.regions}:
            counts[(*base, defect_class, hour, *model, verdict)] += 1
    grouped: dict[tuple[Any, ...], dict[str, int]] = {}
    for (*key, verdict), n in counts.items():
        row = grouped.setdefault(tuple(key), {"inspected": 0, "passed": 0, "failed": 0, "uncertain": 0})
        row["inspected"] += n
        row[verdict] += n
    if not grouped:
        return
    table = RollupHourly.__table__
    names = ("site_id", "line_id", "camera_id", "defect_class", "hour", "model_id", "model_version")
    # Sorted so concurrent batches lock rollup rows in the same order (no deadlocks).
    values = [dict(zip(names, k, strict=True)) | v for k, v in sorted(grouped.items())]
    stmt = _insert(session, table)  # type: ignore[arg-type]
    stmt = stmt.on_conflict_do_update(
        index_elements=[c.name for c in RollupHourly.__table__.primary_key],
        set_={c: table.c[c] + stmt.excluded[c] for c in ("inspected", "passed", "failed", "uncertain")},
    )
    session.execute(stmt, values)


def _event_row(e: InspectionEvent, sealer: Sealer, now: datetime) -> dict[str, Any]:
    part = None
    if e.part_id is not None:
        part = sealer.seal(
            e.part_id.encode(), object_id=f"{e.node_id}:{e.idempotency_key}", category="inspection_events"
        )
    return {
        "event_id": e.event_id,
        "idempotency_key": e.idempotency_key,
        "node_id": e.node_id,
        "site_id": e.site_id,
        "line_id": e.line_id,
        "station_id": e.station_id,
        "camera_id": e.camera_id,
        "part_id_sealed": part,
        "frame_id": e.frame_id,
        "captured_at": e.captured_at,
        "received_at": now,
        "model_id": e.model.model_id,
        "model_version": e.model.version,
        "model_sha256": e.model.sha256,
        "verdict": e.verdict.value,
        "anomaly_score": e.anomaly_score,
        "threshold": e.threshold,
        "regions": [r.model_dump(mode="json") for r in e.regions],
        "evidence_ref": e.evidence_ref,
        "latency_ms": e.latency_ms,
    }


def _alert_row(a: Alert, sealer: Sealer, now: datetime) -> dict[str, Any]:
    sealed = sealer.seal(a.message.encode(), object_id=f"{a.node_id}:{a.idempotency_key}", category="alerts")
    return {
        "alert_id": a.alert_id,
        "idempotency_key": a.idempotency_key,
        "node_id": a.node_id,
        "site_id": a.site_id,
        "line_id": a.line_id,
        "camera_id": a.camera_id,
        "kind": a.kind.value,
        "severity": a.severity.value,
        "raised_at": a.raised_at,
        "received_at": now,
        "message_sealed": sealed,
        "event_id": a.event_id,
        "defect_class": a.defect_class,
    }


def _work_order_row(w: WorkOrderTrigger, sealer: Sealer, now: datetime) -> dict[str, Any]:
    sealed = sealer.seal(
        w.reason.encode(), object_id=f"{w.node_id}:{w.idempotency_key}", category="work_orders"
    )
    return {
        "trigger_id": w.trigger_id,
        "idempotency_key": w.idempotency_key,
        "node_id": w.node_id,
        "site_id": w.site_id,
        "line_id": w.line_id,
        "station_id": w.station_id,
        "created_at": w.created_at,
        "received_at": now,
        "reason_sealed": sealed,
        "defect_class": w.defect_class,
        "priority": w.priority,
        "event_ids": list(w.event_ids),
    }


def _bump_counters(session: Session, node_id: str, now: datetime, **deltas: int) -> None:
    table = IngestCounters.__table__
    values = {"node_id": node_id, "last_batch_at": now, "batches_accepted": 0, "batches_rejected": 0}
    values |= {"items_stored": 0, "items_duplicate": 0} | deltas
    stmt = _insert(session, table)  # type: ignore[arg-type]
    stmt = stmt.on_conflict_do_update(
        index_elements=["node_id"],
        set_={"last_batch_at": now} | {c: table.c[c] + stmt.excluded[c] for c in deltas},
    )
    session.execute(stmt, values)


def record_rejection(session: Session, *, node_id: str, reason: str, audit: AuditHook) -> None:
    """Count and audit a refused batch (its items are not stored)."""
    now = datetime.now(UTC)
    _bump_counters(session, node_id, now, batches_rejected=1)
    emit(audit, session, IngestBatchRejected(node_id=node_id, reason=reason[:500]), actor=f"node:{node_id}")
    session.commit()


def ingest_batch(
    session: Session,
    *,
    node: NodeIdentity,
    batch: IngestBatch,
    sealer: Sealer,
    audit: AuditHook,
    write_gate: AbstractContextManager[Any] | None = None,
    now: datetime | None = None,
) -> IngestReceipt:
    """Store a contract-valid batch from ``node``; see the module docstring for semantics.

    The CPU work (authorising, sealing) happens before the write transaction starts;
    ``write_gate`` (SQLite: one writer per process) is held only around the writes.
    """
    now = now or datetime.now(UTC)
    authorize_batch(node, batch)
    total = len(batch.events) + len(batch.alerts) + len(batch.work_orders)
    kinds: list[tuple[Any, Sequence[Any], Any]] = [
        (InspectionEventRow, batch.events, _event_row),
        (AlertRow, batch.alerts, _alert_row),
        (WorkOrderRow, batch.work_orders, _work_order_row),
    ]
    # Sealing is CPU work: it happens before the write transaction, and its data keys
    # are written inside it (flush_keys), so rows and keys commit together or not at all.
    sealer, flush_keys = staged_sealer(sealer)
    planned = []
    for model, items, to_row in kinds:
        unique = _first_per_key(items)
        existing = _existing_keys(session, model, node.node_id, [i.idempotency_key for i in unique])
        fresh = [i for i in unique if i.idempotency_key not in existing]
        planned.append((model, fresh, [to_row(i, sealer, now) for i in fresh]))
    with write_gate or nullcontext():
        # First write: lock this node's counter row. Batches of one node are stored one
        # after another, so re-checking which keys exist is exact; other nodes do not
        # wait (on PostgreSQL).
        _bump_counters(session, node.node_id, now)
        stored = 0
        for model, fresh, rows in planned:
            if _existing_keys(session, model, node.node_id, [i.idempotency_key for i in fresh]):
                session.rollback()
                msg = "part of this batch was stored by a concurrent delivery; retry the batch"
                raise ConflictError(msg)
            _insert_new(session, model, rows)
            stored += len(rows)
            if model is InspectionEventRow:
                _roll_up(session, fresh)
        flush_keys(session)
        duplicates = total - stored
        _bump_counters(
            session, node.node_id, now, batches_accepted=1, items_stored=stored, items_duplicate=duplicates
        )
        accepted = IngestBatchAccepted(
            node_id=node.node_id,
            batch_id=new_id("bat"),
            events=len(batch.events),
            alerts=len(batch.alerts),
            duplicates=duplicates,
        )
        emit(audit, session, accepted, actor=f"node:{node.node_id}")
        session.commit()
    return IngestReceipt(node_id=node.node_id, acknowledged=total, stored=stored, duplicates=duplicates)


def record_heartbeat(
    session: Session, *, node: NodeIdentity, heartbeat: NodeHeartbeat, now: datetime | None = None
) -> HeartbeatReceipt:
    now = now or datetime.now(UTC)
    problems = []
    if heartbeat.node_id != node.node_id:
        problems.append(
            f"node_id: heartbeat is for {heartbeat.node_id!r}, the certificate is {node.node_id!r}"
        )
    if (heartbeat.site_id, heartbeat.line_id) != (node.site_id, node.line_id):
        problems.append(
            f"line_id: {heartbeat.site_id}/{heartbeat.line_id} is not {node.site_id}/{node.line_id}"
        )
    problems += [
        f"cameras[{i}].camera_id: {c.camera_id!r} is not enrolled for node {node.node_id!r}"
        for i, c in enumerate(heartbeat.cameras)
        if c.camera_id not in node.camera_ids
    ]
    if problems:
        msg = f"heartbeat refused: it describes what node {node.node_id} does not own"
        raise PermissionDeniedError(msg, details=problems)
    health = session.get(NodeHealthRow, node.node_id) or NodeHealthRow(node_id=node.node_id)
    health.site_id, health.line_id = heartbeat.site_id, heartbeat.line_id
    health.last_seen_at, health.sent_at = now, heartbeat.sent_at
    health.software_version, health.uptime_s = heartbeat.software_version, heartbeat.uptime_s
    health.outbox_backlog, health.disk_used_bytes = heartbeat.outbox_backlog, heartbeat.disk_used_bytes
    session.add(health)
    for camera in heartbeat.cameras:
        row = session.get(CameraHealthRow, (node.node_id, camera.camera_id)) or CameraHealthRow(
            node_id=node.node_id, camera_id=camera.camera_id
        )
        row.updated_at, row.state, row.fps = now, camera.state, camera.fps
        row.latency_p50_ms, row.latency_p99_ms = camera.latency_p50_ms, camera.latency_p99_ms
        row.frames_dropped, row.frames_corrupt = camera.frames_dropped, camera.frames_corrupt
        row.model_id = camera.model.model_id if camera.model else None
        row.model_version = camera.model.version if camera.model else None
        row.model_sha256 = camera.model.sha256 if camera.model else None
        session.add(row)
    session.commit()
    return HeartbeatReceipt(node_id=node.node_id, cameras=len(heartbeat.cameras))
