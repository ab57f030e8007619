"""Contract messages → rows of the ingest tables (free-text fields arrive sealed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from lineguard.contracts.events import Alert, InspectionEvent, PartVerdict, WorkOrderTrigger
from lineguard.contracts.stages import StageResult
from lineguard.server.context import Sealer

__all__ = ["alert_row", "event_row", "part_row", "seal_all", "stage_result_row", "work_order_row"]


def event_row(e: InspectionEvent, part: bytes | None, now: datetime) -> dict[str, Any]:
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


def part_row(p: PartVerdict, part: bytes | None, now: datetime) -> dict[str, Any]:
    return {
        "part_verdict_id": p.part_verdict_id,
        "idempotency_key": p.idempotency_key,
        "node_id": p.node_id,
        "site_id": p.site_id,
        "line_id": p.line_id,
        "station_id": p.station_id,
        "camera_id": p.camera_id,
        "part_id_sealed": part,
        "id_source": p.id_source.value,
        "first_frame_id": p.first_frame_id,
        "last_frame_id": p.last_frame_id,
        "first_seen_at": p.first_seen_at,
        "last_seen_at": p.last_seen_at,
        "received_at": now,
        "frames": p.frames,
        "frames_fused": p.frames_fused,
        "frames_expected": p.frames_expected,
        "views_short": p.views_short,
        "model_id": p.model.model_id,
        "model_version": p.model.version,
        "model_sha256": p.model.sha256,
        "verdict": p.verdict.value,
        "anomaly_score": p.anomaly_score,
        "threshold": p.threshold,
        "regions": [r.model_dump(mode="json") for r in p.regions],
        "decisive_event_id": p.decisive_event_id,
        "evidence_ref": p.evidence_ref,
        "closed_by": p.closed_by,
        "anomalies": list(p.anomalies),
        "stages": [v.model_dump(mode="json") for v in p.stages],
    }


def stage_result_row(r: StageResult, _sealed: bytes | None, now: datetime) -> dict[str, Any]:
    """A stage result carries no free plant text: nothing of it is sealed."""
    return {
        "result_id": r.result_id,
        "idempotency_key": r.idempotency_key,
        "node_id": r.node_id,
        "site_id": r.site_id,
        "line_id": r.line_id,
        "station_id": r.station_id,
        "camera_id": r.camera_id,
        "stage": r.stage,
        "kind": r.kind.value,
        "part_verdict_id": r.part_verdict_id,
        "frame_id": r.frame_id,
        "frame_ids": list(r.frame_ids) or None,
        "captured_at": r.captured_at,
        "received_at": now,
        "verdict": r.verdict.value,
        "reasons": [x.model_dump(mode="json") for x in r.reasons],
        "measurements": [m.model_dump(mode="json") for m in r.measurements],
        "inputs": [i.model_dump(mode="json") for i in r.inputs],
        "latency_ms": r.latency_ms,
    }


def alert_row(a: Alert, sealed: bytes | None, now: datetime) -> dict[str, Any]:
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


def work_order_row(w: WorkOrderTrigger, sealed: bytes | None, now: datetime) -> dict[str, Any]:
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


def seal_all(sealer: Sealer, items: Sequence[Any], field: str, category: str) -> list[bytes | None]:
    """Each item's ``field`` sealed for its record ``<node>:<idempotency key>`` (None stays None),
    with one :meth:`~lineguard.server.context.Sealer.seal_many` call for the batch."""
    texts = [getattr(item, field) for item in items]
    if all(text is None for text in texts):  # most batches carry no alerts or work orders
        return [None] * len(texts)
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
