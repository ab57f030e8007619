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
of item (events, alerts, work orders: :func:`lineguard.server.storage.insert_columns`),
then the rollups, data keys and counters (:func:`lineguard.server.storage.insert_many`:
one statement on PostgreSQL, one per table on SQLite), the audit entry, and one
commit. The hourly and daily rollups are
aggregated in Python from the rows actually inserted and added in the same transaction,
so rollup counts always equal the raw table. Rows are written in key order, so concurrent
batches take their locks in the same order (no deadlocks).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from lineguard.contracts.audit import IngestBatchAccepted, IngestBatchRejected
from lineguard.contracts.errors import PermissionDeniedError
from lineguard.contracts.events import (
    Alert,
    IngestBatch,
    InspectionEvent,
    ModelRef,
    NodeHeartbeat,
    PartVerdict,
    Verdict,
    WorkOrderTrigger,
)
from lineguard.contracts.ids import new_id
from lineguard.contracts.ppe import PpeCounts
from lineguard.contracts.stages import MAINTENANCE_RECOMMENDED, StageKind, StageResult
from lineguard.server.context import AuditHook, Sealer
from lineguard.server.ingest.models import (
    AlertRow,
    CameraHealthRow,
    IngestCounters,
    InspectionEventRow,
    NodeHealthRow,
    PartVerdictRow,
    StageResultRow,
    WorkOrderRow,
)
from lineguard.server.ingest.rollups import rollup_rows
from lineguard.server.ingest.rows import (
    alert_row,
    event_columns,
    part_row,
    seal_all,
    stage_result_row,
    work_order_row,
)
from lineguard.server.ingest.schemas import HeartbeatReceipt, IngestReceipt
from lineguard.server.keystore import staged_sealer
from lineguard.server.measurements import record_measurements
from lineguard.server.nodes import NodeIdentity
from lineguard.server.ppe import PpeCountRow, ppe_row
from lineguard.server.review import ALERT, PART_VERDICT, THERMAL_MAINTENANCE, Proposal, propose_many
from lineguard.server.storage import TableRows, insert_columns, insert_many

__all__ = ["authorize_batch", "ingest_batch", "record_heartbeat", "record_rejection"]

_Item = TypeVar("_Item", InspectionEvent, Alert, WorkOrderTrigger, PartVerdict, StageResult, PpeCounts)
#: The server's own minimum for PPE counts when the caller names none (config ``safety.ppe_min_count``).
PPE_MIN_COUNT = 5


def _all_own(node: NodeIdentity, batch: IngestBatch) -> bool:
    """Whether every item names the node's site and line and an enrolled camera: the
    common case, decided with set operations in C (no per-item Python call). Fields are
    read from each item's ``__dict__`` once (a pydantic attribute costs ~400 instructions,
    a dict lookup ~50; see ``ingest.rows.event_columns``)."""
    place = {(node.site_id, node.line_id)}
    for items in (batch.events, batch.alerts, batch.parts, batch.stage_results, batch.ppe_counts):
        if not items:
            continue
        fields = [i.__dict__ for i in items]
        if {(f["site_id"], f["line_id"]) for f in fields} != place or not node.camera_ids.issuperset(
            {c for f in fields if (c := f["camera_id"]) is not None}
        ):
            return False
    return not batch.work_orders or {(w.site_id, w.line_id) for w in batch.work_orders} == place


def authorize_batch(node: NodeIdentity, batch: IngestBatch) -> None:
    """Raise 403 unless every item is the node's own (site, line, enrolled camera).

    A batch that is all the node's own is passed by :func:`_all_own`; any other is
    walked item by item, so the error names every offending item."""
    if batch.node_id == node.node_id and _all_own(node, batch):
        return
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
    for i, part in enumerate(batch.parts):
        check(f"parts[{i}]", part.site_id, part.line_id, part.camera_id)
    for i, result in enumerate(batch.stage_results):
        check(f"stage_results[{i}]", result.site_id, result.line_id, result.camera_id)
    for i, counts in enumerate(batch.ppe_counts):
        check(f"ppe_counts[{i}]", counts.site_id, counts.line_id, counts.camera_id)
    if problems:
        msg = f"batch refused: {len(problems)} item(s) are not node {node.node_id}'s to write"
        raise PermissionDeniedError(msg, details=problems[:50])


def _first_per_key(items: Sequence[_Item]) -> list[_Item]:
    """One item per idempotency key (the first), in key order."""
    seen: dict[str, _Item] = {}
    for item in items:
        seen.setdefault(item.idempotency_key, item)
    return [seen[k] for k in sorted(seen)]


def _new_items(unique: list[_Item], keys: Sequence[str], inserted: set[str]) -> list[_Item]:
    """The items whose rows were inserted (``unique`` and their ``keys`` in the same order):
    all of them when as many keys came back as rows were sent (the common case: no
    per-item work), else those whose key came back."""
    if len(inserted) == len(keys):
        return list(unique)
    return [item for item, key in zip(unique, keys, strict=True) if key in inserted]


#: The rows of one kind of item, column by column (``insert_columns``).
_Columns = dict[str, Sequence[Any]]


def _row_columns(
    to_row: Callable[[Any, bytes | None, datetime], dict[str, Any]],
) -> Callable[[Sequence[Any], Sequence[bytes | None], datetime], _Columns]:
    """A kind's row builder, as a builder of its rows' columns (the kinds other than
    inspection events are few per batch: a dict per row is no cost there)."""

    def columns(items: Sequence[Any], sealed: Sequence[bytes | None], now: datetime) -> _Columns:
        rows = [to_row(item, secret, now) for item, secret in zip(items, sealed, strict=True)]
        return {name: [row[name] for row in rows] for name in rows[0]} if rows else {}

    return columns


class _Written:
    """The records a batch stored, asked as ``(category, "<node>:<key>") in written`` by
    ``key_rows``: held as each kind's inserted keys, so no object id is formatted per
    stored item (``key_rows`` asks only about staged per-record keys; most batches have none)."""

    def __init__(self, node_id: str) -> None:
        self._prefix = f"{node_id}:"
        self._keys: dict[str, set[str]] = {}

    def add(self, category: str, keys: set[str]) -> None:
        self._keys.setdefault(category, set()).update(keys)

    def __contains__(self, record: object) -> bool:
        if not (isinstance(record, tuple) and len(record) == 2):
            return False
        category, object_id = record
        prefix = self._prefix
        return (
            isinstance(object_id, str)
            and object_id.startswith(prefix)
            and object_id[len(prefix) :] in self._keys.get(category, ())
        )


def _insert_new(session: Session, model: Any, columns: _Columns) -> set[str]:
    """Insert the rows whose key is not stored yet; return the keys actually inserted."""
    inserted = insert_columns(
        session,
        model.__table__,
        columns,
        on_conflict=["node_id", "idempotency_key"],
        returning="idempotency_key",
    )
    return set(inserted)


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


def _propose_uncertain_parts(
    session: Session, node: NodeIdentity, parts: list[PartVerdict], audit: AuditHook, now: datetime
) -> None:
    """Parts the model was unsure about (or judged on partial views only) go to a person."""
    proposals = [
        Proposal(
            subject_id=p.part_verdict_id,
            site_id=p.site_id,
            line_id=p.line_id,
            raised_at=p.last_seen_at,
            content={
                "judged": True,
                "verdict": p.verdict.value,
                "defect_class": p.regions[0].defect_class if p.regions else None,
                "event_id": p.decisive_event_id,
                "camera_id": p.camera_id,
                "anomalies": list(p.anomalies),
                "model": _model_of(p.model),
            },
        )
        for p in parts
        if p.verdict is Verdict.UNCERTAIN or "partial_only" in p.anomalies
    ]
    propose_many(
        session, kind=PART_VERDICT, proposals=proposals, actor=f"node:{node.node_id}", audit=audit, now=now
    )


def _model_of(ref: ModelRef) -> dict[str, str | int]:
    """The model a verdict came from, as a proposal names it (review checks a person's
    class against that package's classes, see ``review.kinds``)."""
    return {"model_id": ref.model_id, "version": ref.version, "sha256": ref.sha256}


def _alert_models(
    session: Session, node_id: str, alerts: list[Alert], events: Sequence[InspectionEvent]
) -> dict[str, dict[str, str | int]]:
    """event_id → model of the events that raised ``alerts``: from the batch, else (an
    event this node sent in an earlier batch) from the stored events, in one query."""
    wanted = {a.event_id for a in alerts if a.event_id is not None}
    found = {e.event_id: _model_of(e.model) for e in events if e.event_id in wanted}
    missing = wanted - set(found)
    if missing:
        rows = session.execute(
            select(
                InspectionEventRow.event_id,
                InspectionEventRow.model_id,
                InspectionEventRow.model_version,
                InspectionEventRow.model_sha256,
            ).where(InspectionEventRow.node_id == node_id, InspectionEventRow.event_id.in_(sorted(missing)))
        )
        for event_id, model_id, version, sha256 in rows:
            found[event_id] = {"model_id": model_id, "version": version, "sha256": sha256}
    return found


def _propose_alerts(
    session: Session,
    node: NodeIdentity,
    alerts: list[Alert],
    events: Sequence[InspectionEvent],
    audit: AuditHook,
    now: datetime,
) -> None:
    """Put every newly stored alert under review (``ai.recommendation``), in the batch's transaction.

    A defect alert carries the AI's verdict (fail, its class, the model that made it) for
    a person to confirm or overrule; other alerts (camera offline, disk budget…) carry
    none and are acknowledged and resolved. Only the alert's metadata is proposed: its
    message stays sealed.
    """
    models = _alert_models(session, node.node_id, [a for a in alerts if a.kind.value == "defect"], events)
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
            }
            | ({"model": models[a.event_id]} if a.event_id in models else {}),
        )
        for a in alerts
    ]
    propose_many(session, kind=ALERT, proposals=proposals, actor=f"node:{node.node_id}", audit=audit, now=now)


def _propose_thermal_maintenance(
    session: Session, node: NodeIdentity, results: list[StageResult], audit: AuditHook, now: datetime
) -> None:
    """A thermal trend past its limit becomes a maintenance recommendation under review.

    The proposal is the node's numbers (the rise over normal, its limit, the slope) and a
    priority a technician may edit; the asset is the reason's subject.
    """
    proposals = []
    for r in results:
        reason = next((x for x in r.reasons if x.code == MAINTENANCE_RECOMMENDED), None)
        if r.kind is not StageKind.THERMAL or reason is None:
            continue
        values = {m.characteristic.rsplit(".", 1)[-1]: m for m in r.measurements}
        trend, slope = values.get("trend"), values.get("slope")
        proposals.append(
            Proposal(
                subject_id=r.result_id,
                site_id=r.site_id,
                line_id=r.line_id,
                raised_at=r.captured_at,
                content={
                    "asset": reason.subject,
                    "camera_id": r.camera_id,
                    "station_id": r.station_id,
                    "stage": r.stage,
                    "trend_c": trend.value if trend else None,
                    "limit_c": trend.upper_limit if trend else None,
                    "slope_c_per_h": slope.value if slope else None,
                    "title": f"Thermal inspection of {reason.subject}",
                    "priority": "medium",
                    "note": "",
                },
            )
        )
    actor = f"node:{node.node_id}"
    propose_many(session, kind=THERMAL_MAINTENANCE, proposals=proposals, actor=actor, audit=audit, now=now)


def record_rejection(session: Session, *, node_id: str, reason: str, audit: AuditHook) -> None:
    """Count and audit a refused batch (its items are not stored)."""
    now = datetime.now(UTC)
    insert_many(session, [_counter_rows(node_id, now, batches_rejected=1)])
    audit(session, IngestBatchRejected(node_id=node_id, reason=reason[:500]), actor=f"node:{node_id}")
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
    ppe_min_count: int = PPE_MIN_COUNT,
) -> IngestReceipt:
    """Store a contract-valid batch from ``node``; see the module docstring for semantics.

    The CPU work (authorising, sealing) happens before the write transaction starts;
    ``write_gate`` (SQLite: one writer) is held only around the writes.
    """
    now = now or datetime.now(UTC)
    authorize_batch(node, batch)
    total = (
        len(batch.events)
        + len(batch.alerts)
        + len(batch.work_orders)
        + len(batch.parts)
        + len(batch.stage_results)
        + len(batch.ppe_counts)
    )
    kinds: list[tuple[Any, Sequence[Any], Any, str, str | None]] = [
        (PartVerdictRow, batch.parts, _row_columns(part_row), "part_verdicts", "part_id"),
        (InspectionEventRow, batch.events, event_columns, "inspection_events", "part_id"),
        (AlertRow, batch.alerts, _row_columns(alert_row), "alerts", "message"),
        (WorkOrderRow, batch.work_orders, _row_columns(work_order_row), "work_orders", "reason"),
        (StageResultRow, batch.stage_results, _row_columns(stage_result_row), "stage_results", None),
        # Aggregates only; suppressed again with the server's minimum before they are stored.
        (
            PpeCountRow,
            batch.ppe_counts,
            _row_columns(functools.partial(ppe_row, min_count=ppe_min_count)),
            "ppe_counts",
            None,
        ),
    ]
    # Sealing is CPU work: it happens before the write transaction, and the data keys
    # of the rows actually inserted are written inside it (flush_keys), so rows and
    # keys commit together or not at all; keys of duplicates are never stored.
    sealer, key_rows = staged_sealer(sealer)
    planned = []
    for model, items, to_columns, category, secret in kinds:
        unique = _first_per_key(items)
        if not unique:
            continue
        sealed = seal_all(sealer, unique, secret, category) if secret else [None] * len(unique)
        planned.append((model, unique, to_columns(unique, sealed, now), category))
    with write_gate or nullcontext():
        stored = 0
        written = _Written(node.node_id)
        writes: list[TableRows | None] = []
        new_parts: list[PartVerdict] = []
        new_events: list[InspectionEvent] = []
        new_event_columns: _Columns | None = None
        for model, unique, columns, category in planned:
            inserted = _insert_new(session, model, columns)
            keys = columns["idempotency_key"]
            stored += len(inserted)
            written.add(category, inserted)
            if model is PartVerdictRow:
                new_parts = _new_items(unique, keys, inserted)
                _propose_uncertain_parts(session, node, new_parts, audit, now)
            elif model is InspectionEventRow:
                new_events = _new_items(unique, keys, inserted)
                # Every row inserted (the common case): its columns are the new events' rows.
                new_event_columns = columns if len(inserted) == len(keys) else None
            elif model is StageResultRow:
                new_results = _new_items(unique, keys, inserted)
                # Thermal values are alarm snapshots, not samples of a process: no SPC chart for them
                # (the node keeps their trend); their recommendations have their own review kind.
                sampled = [r for r in new_results if r.kind is not StageKind.THERMAL]
                record_measurements(session, node_id=node.node_id, results=sampled, audit=audit, now=now)
                _propose_thermal_maintenance(session, node, new_results, audit, now)
            elif model is AlertRow:
                _propose_alerts(
                    session,
                    node,
                    _new_items(unique, keys, inserted),
                    batch.events,
                    audit,
                    now,
                )
        duplicates = total - stored
        writes += rollup_rows(new_events, new_parts, event_columns=new_event_columns)
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
        audit(session, accepted, actor=f"node:{node.node_id}")
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
