"""Contract messages → rows of the ingest tables (free-text fields arrive sealed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from operator import attrgetter, itemgetter
from typing import Any

from lineguard.contracts.events import Alert, InspectionEvent, PartVerdict, Verdict, WorkOrderTrigger
from lineguard.contracts.stages import StageResult
from lineguard.server.context import Sealer
from lineguard.server.keystore import BUCKETED_CATEGORIES, hour_bucket

__all__ = ["alert_row", "event_columns", "part_row", "seal_all", "stage_result_row", "work_order_row"]

_ONE_HOUR = timedelta(hours=1)
#: An empty hour: no time is in it, so the first item always formats its bucket's name.
_NO_HOUR = datetime.min.replace(tzinfo=UTC)


#: The event fields stored as the model holds them (read from each event's ``__dict__`` in
#: one C call), then the model reference and the verdict, converted below.
_EVENT_FIELDS = itemgetter(
    "event_id",
    "idempotency_key",
    "node_id",
    "site_id",
    "line_id",
    "station_id",
    "camera_id",
    "frame_id",
    "captured_at",
    "anomaly_score",
    "threshold",
    "evidence_ref",
    "latency_ms",
    "regions",
    "model",
    "verdict",
)
_MODEL_FIELDS = itemgetter("model_id", "version", "sha256")
_FIELDS_OF = attrgetter("__dict__")
#: A verdict's text: its ``_value_`` (what ``.value`` returns through enum's Python-level
#: descriptor, ~1.5k instructions), looked up per event in C.
_VERDICT_TEXT: dict[Verdict, str] = {verdict: verdict._value_ for verdict in Verdict}
#: The regions of an event without any (most of them): one list, never changed, for every such row.
_NO_REGIONS: list[dict[str, Any]] = []


def event_columns(
    events: Sequence[InspectionEvent], parts: Sequence[bytes | None], now: datetime
) -> dict[str, Sequence[Any]]:
    """The ``inspection_events`` rows of ``events`` column by column (for
    :func:`~lineguard.server.storage.insert_columns`), ``parts`` their sealed part ids.

    Fields are read from the models' ``__dict__``, where pydantic keeps them: an attribute
    of a pydantic model goes through ``BaseModel.__getattr__``'s slot, which the
    interpreter never specialises (~400 instructions each, ~20 per event); and they are
    read by ``itemgetter`` and transposed by ``zip``, in C, instead of a dict built per
    row and unpacked again per row by the insert (a test holds each row to the event's
    own fields).
    """
    if not events:
        return {}
    (
        event_id,
        idempotency_key,
        node_id,
        site_id,
        line_id,
        station_id,
        camera_id,
        frame_id,
        captured_at,
        anomaly_score,
        threshold,
        evidence_ref,
        latency_ms,
        regions,
        model,
        verdict,
    ) = zip(*map(_EVENT_FIELDS, map(_FIELDS_OF, events)), strict=True)
    model_id, model_version, model_sha256 = zip(*map(_MODEL_FIELDS, map(_FIELDS_OF, model)), strict=True)
    return {
        "event_id": event_id,
        "idempotency_key": idempotency_key,
        "node_id": node_id,
        "site_id": site_id,
        "line_id": line_id,
        "station_id": station_id,
        "camera_id": camera_id,
        "part_id_sealed": parts,
        "frame_id": frame_id,
        "captured_at": captured_at,
        "received_at": [now] * len(events),
        "model_id": model_id,
        "model_version": model_version,
        "model_sha256": model_sha256,
        "verdict": list(map(_VERDICT_TEXT.__getitem__, verdict)),
        "anomaly_score": anomaly_score,
        "threshold": threshold,
        "regions": [
            [r.model_dump(mode="json") for r in found] if found else _NO_REGIONS for found in regions
        ],
        "evidence_ref": evidence_ref,
        "latency_ms": latency_ms,
    }


def part_row(p: PartVerdict, part: bytes | None, now: datetime) -> dict[str, Any]:
    f = p.__dict__  # as event_columns: dict lookups, not pydantic attributes
    model = f["model"].__dict__
    return {
        "part_verdict_id": f["part_verdict_id"],
        "idempotency_key": f["idempotency_key"],
        "node_id": f["node_id"],
        "site_id": f["site_id"],
        "line_id": f["line_id"],
        "station_id": f["station_id"],
        "camera_id": f["camera_id"],
        "part_id_sealed": part,
        "id_source": f["id_source"]._value_,
        "first_frame_id": f["first_frame_id"],
        "last_frame_id": f["last_frame_id"],
        "first_seen_at": f["first_seen_at"],
        "last_seen_at": f["last_seen_at"],
        "received_at": now,
        "frames": f["frames"],
        "frames_fused": f["frames_fused"],
        "frames_expected": f["frames_expected"],
        "views_short": f["views_short"],
        "model_id": model["model_id"],
        "model_version": model["version"],
        "model_sha256": model["sha256"],
        "verdict": f["verdict"]._value_,
        "anomaly_score": f["anomaly_score"],
        "threshold": f["threshold"],
        "regions": [r.model_dump(mode="json") for r in f["regions"]] if f["regions"] else [],
        "decisive_event_id": f["decisive_event_id"],
        "evidence_ref": f["evidence_ref"],
        "closed_by": f["closed_by"],
        "anomalies": list(f["anomalies"]),
        "stages": [v.model_dump(mode="json") for v in f["stages"]] if f["stages"] else [],
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
    with one :meth:`~lineguard.server.context.Sealer.seal_many` call for the batch; inspection
    events under their line-hour bucket's key (:meth:`~lineguard.server.context.Sealer.seal_in_buckets`)."""
    # Each item's fields read once from its __dict__ (see event_columns), not three pydantic attributes.
    fields = [item.__dict__ for item in items]
    texts = [f[field] for f in fields]
    missing = texts.count(None)
    if missing == len(texts):  # most batches carry no alerts or work orders
        return [None] * len(texts)
    sealed: list[bytes]
    if category in BUCKETED_CATEGORIES:
        sealed = sealer.seal_in_buckets(
            [
                (f"{f['node_id']}:{f['idempotency_key']}", bucket, text.encode())
                for f, bucket, text in zip(fields, _hour_buckets(fields), texts, strict=True)
                if text is not None
            ],
            category=category,
        )
    else:
        sealed = sealer.seal_many(
            [
                (f"{f['node_id']}:{f['idempotency_key']}", text.encode())
                for f, text in zip(fields, texts, strict=True)
                if text is not None
            ],
            category=category,
        )
    if not missing:  # every item had one (a line's events: a part id each)
        every: list[bytes | None] = list(sealed)
        return every
    each = iter(sealed)
    return [None if text is None else next(each) for text in texts]


def _hour_buckets(items: Sequence[dict[str, Any]]) -> list[str]:
    """Each item's line-hour bucket (:func:`~lineguard.server.keystore.hour_bucket`), from its fields.

    A batch's events fall in one or two hours of one line: a name is formatted when an item
    leaves the previous item's hour or line, and otherwise reused. Contract times are
    normalised to ``datetime.UTC``, so comparing them is a field-by-field comparison (no
    ``utcoffset`` call), cheaper than turning each into a timestamp.
    """
    buckets: list[str] = []
    append = buckets.append
    start = end = _NO_HOUR
    site = line = name = ""
    for fields in items:
        at = fields["captured_at"]
        if not (start <= at < end) or fields["line_id"] != line or fields["site_id"] != site:
            site, line = fields["site_id"], fields["line_id"]
            start = at.replace(minute=0, second=0, microsecond=0)
            end = start + _ONE_HOUR
            name = hour_bucket(site, line, at)
        append(name)
    return buckets
