"""Store what a node sends: authorise, deduplicate, seal, roll up, audit.

Whole-batch atomicity: a batch is stored entirely or not at all. Contract checks run
before this module; here every item must belong to the authenticated node's site,
line and enrolled cameras, and one foreign item rejects the batch with a 403 whose
details name every offending item. Nothing of a rejected batch is stored, and nothing
is lost either: the node keeps the batch in its outbox until it is acknowledged.

Idempotency: each item is stored at most once per ``(node_id, idempotency_key)``. The
unique constraint decides, in the insert itself: ``INSERT … ON CONFLICT DO NOTHING
RETURNING idempotency_key`` names exactly the items that are new, also when two
deliveries of one batch race (PostgreSQL makes the second wait for the first and then
skip). Keys already present are counted as duplicates; a retried batch is
acknowledged exactly like the first delivery.

Cost: the CPU work (authorising, building and sealing rows, one ``seal_many`` per
kind) happens before the write section; the write section is one statement per kind
of item (events, alerts, work orders: :func:`lineguard.server.storage.insert_rows`),
then the rollups, data keys and counters (:func:`lineguard.server.storage.insert_many`:
one statement on PostgreSQL, one per table on SQLite), the audit entry, and one
commit. The hourly and daily rollups are
aggregated in Python from the rows actually inserted and added in the same transaction,
so rollup counts always equal the raw table. Rows are written in key order, so concurrent
batches take their locks in the same order (no deadlocks).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from lineguard.contracts.audit import IngestBatchAccepted, IngestBatchRejected
from lineguard.contracts.errors import PermissionDeniedError
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
    RollupDaily,
    RollupHourly,
    WorkOrderRow,
)
from lineguard.server.ingest.schemas import HeartbeatReceipt, IngestReceipt
from lineguard.server.nodes.service import NodeIdentity, emit
from lineguard.server.protection import staged_sealer
from lineguard.server.review import ALERT, Proposal, propose_many
from lineguard.server.storage import TableRows, insert_many, insert_rows

__all__ = ["authorize_batch", "ingest_batch", "record_heartbeat", "record_rejection"]

_Item = TypeVar("_Item", InspectionEvent, Alert, WorkOrderTrigger)

_VERDICT_COLUMN = {"pass": "passed", "fail": "failed", "uncertain": "uncertain"}


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
    """One item per idempotency key (the first), in key order."""
    seen: dict[str, _Item] = {}
    for item in items:
        seen.setdefault(item.idempotency_key, item)
    return [seen[k] for k in sorted(seen)]


def _insert_new(session: Session, model: Any, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the rows whose key is not stored yet; return the keys actually inserted."""
    inserted = insert_rows(
        session,
        model.__table__,
        rows,
        on_conflict=["node_id", "idempotency_key"],
        returning="idempotency_key",
    )
    return set(inserted)


def _hour(moment: datetime) -> datetime:
    if moment.tzinfo is not UTC:  # the contracts' validators already give UTC
        moment = moment.astimezone(UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def _rollup_rows(events: list[InspectionEvent]) -> list[TableRows]:
    """The hourly and daily rollup increments of ``events`` (added to stored counts on conflict)."""
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
        return []
    names = ("site_id", "line_id", "camera_id", "defect_class", "hour", "model_id", "model_version")
    daily: dict[tuple[Any, ...], dict[str, int]] = {}
    for (site, line, camera, defect_class, hour, *release), counts_of in grouped.items():
        day = daily.setdefault(
            (site, line, camera, defect_class, hour.replace(hour=0), *release), dict.fromkeys(counts_of, 0)
        )
        for column, n in counts_of.items():
            day[column] += n
    rollups: list[tuple[Any, dict[tuple[Any, ...], dict[str, int]], str]] = [
        (RollupHourly, grouped, "hour"),
        (RollupDaily, daily, "day"),
    ]
    writes = []
    for rollup, by_key, time_column in rollups:
        table = cast(Table, rollup.__table__)
        columns = [time_column if n == "hour" else n for n in names]
        # Sorted so concurrent batches lock rollup rows in the same order (no deadlocks).
        values = [dict(zip(columns, k, strict=True)) | v for k, v in sorted(by_key.items())]
        writes.append(
            TableRows(
                table, values, on_conflict=[c.name for c in table.primary_key], add_on_conflict=_COUNT_COLUMNS
            )
        )
    return writes


_COUNT_COLUMNS = ("inspected", "passed", "failed", "uncertain")


def _event_row(e: InspectionEvent, part: bytes | None, now: datetime) -> dict[str, Any]:
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


def _alert_row(a: Alert, sealed: bytes | None, now: datetime) -> dict[str, Any]:
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


def _work_order_row(w: WorkOrderTrigger, sealed: bytes | None, now: datetime) -> dict[str, Any]:
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


def _seal_all(sealer: Sealer, items: Sequence[Any], field: str, category: str) -> list[bytes | None]:
    """Each item's ``field`` sealed for its record ``<node>:<idempotency key>`` (None stays None),
    with one :meth:`~lineguard.server.context.Sealer.seal_many` call for the batch."""
    texts = [getattr(item, field) for item in items]
    sealed = iter(
        sealer.seal_many(
            [
                (f"{item.node_id}:{item.idempotency_key}", text.encode())
                for item, text in zip(items, texts, strict=True)
                if text is not None
            ],
            category=category,
        )
    )
    return [None if text is None else next(sealed) for text in texts]


def _counter_rows(node_id: str, now: datetime, **deltas: int) -> TableRows:
    """The node's ingest counters, added to the stored ones."""
    counts = {"batches_accepted": 0, "batches_rejected": 0, "items_stored": 0, "items_duplicate": 0}
    return TableRows(
        cast(Table, IngestCounters.__table__),
        [{"node_id": node_id, "last_batch_at": now} | counts | deltas],
        on_conflict=["node_id"],
        add_on_conflict=list(counts),
        replace_on_conflict=["last_batch_at"],
    )


def _propose_alerts(
    session: Session, node: NodeIdentity, alerts: list[Alert], audit: AuditHook, now: datetime
) -> None:
    """Put every newly stored alert under review (``ai.recommendation``), in the batch's transaction.

    A defect alert carries the AI's verdict (fail, its class) for a person to confirm or
    overrule; other alerts (camera offline, disk budget…) carry none and are acknowledged
    and resolved. Only the alert's metadata is proposed: its message stays sealed.
    """
    proposals = [
        Proposal(
            subject_id=a.alert_id,
            site_id=a.site_id,
            line_id=a.line_id,
            raised_at=a.raised_at,
            content={
                "kind": a.kind.value,
                "severity": a.severity.value,
                "judged": a.kind.value == "defect",
                "verdict": "fail" if a.kind.value == "defect" else None,
                "defect_class": a.defect_class,
                "event_id": a.event_id,
                "camera_id": a.camera_id,
            },
        )
        for a in alerts
    ]
    propose_many(session, kind=ALERT, proposals=proposals, actor=f"node:{node.node_id}", audit=audit, now=now)


def record_rejection(session: Session, *, node_id: str, reason: str, audit: AuditHook) -> None:
    """Count and audit a refused batch (its items are not stored)."""
    now = datetime.now(UTC)
    insert_many(session, [_counter_rows(node_id, now, batches_rejected=1)])
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
    ``write_gate`` (SQLite: one writer) is held only around the writes.
    """
    now = now or datetime.now(UTC)
    authorize_batch(node, batch)
    total = len(batch.events) + len(batch.alerts) + len(batch.work_orders)
    kinds: list[tuple[Any, Sequence[Any], Any, str, str]] = [
        (InspectionEventRow, batch.events, _event_row, "inspection_events", "part_id"),
        (AlertRow, batch.alerts, _alert_row, "alerts", "message"),
        (WorkOrderRow, batch.work_orders, _work_order_row, "work_orders", "reason"),
    ]
    # Sealing is CPU work: it happens before the write transaction, and the data keys
    # of the rows actually inserted are written inside it (flush_keys), so rows and
    # keys commit together or not at all; keys of duplicates are never stored.
    sealer, key_rows = staged_sealer(sealer)
    planned = []
    for model, items, to_row, category, secret in kinds:
        unique = _first_per_key(items)
        sealed = _seal_all(sealer, unique, secret, category)
        planned.append(
            (model, unique, [to_row(i, s, now) for i, s in zip(unique, sealed, strict=True)], category)
        )
    with write_gate or nullcontext():
        stored = 0
        written: set[tuple[str, str]] = set()
        writes: list[TableRows | None] = []
        for model, unique, rows, category in planned:
            if not rows:
                continue
            inserted = _insert_new(session, model, rows)
            stored += len(inserted)
            written.update((category, f"{node.node_id}:{key}") for key in inserted)
            if model is InspectionEventRow:
                writes += _rollup_rows([e for e in unique if e.idempotency_key in inserted])
            elif model is AlertRow:
                _propose_alerts(
                    session, node, [a for a in unique if a.idempotency_key in inserted], audit, now
                )
        duplicates = total - stored
        writes.append(key_rows(written))
        writes.append(
            _counter_rows(
                node.node_id, now, batches_accepted=1, items_stored=stored, items_duplicate=duplicates
            )
        )
        # Rollups, data keys and counters: one statement on PostgreSQL (one round trip).
        insert_many(session, [w for w in writes if w is not None])
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
    health.config_sha256 = heartbeat.config_sha256
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
