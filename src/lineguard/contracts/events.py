"""Messages that cross the edge → server trust boundary (schema version 1).

Only metadata crosses: every string is bounded and pattern-checked where it is an id,
and the evidence reference is an opaque id, so there is no field in which image bytes
could travel. Unknown fields are rejected (``extra="forbid"``) and so are payloads over
:data:`MAX_BATCH_BYTES` (see :func:`lineguard.contracts.parsing.parse_message`).

A change that breaks old readers bumps :data:`SCHEMA_VERSION`; ``docs/schemas/`` holds
the exported JSON Schema and a test keeps it in sync with these classes.
"""

from __future__ import annotations

import enum
from typing import Literal

from pydantic import Field, model_validator

from lineguard.contracts.fields import (
    SCHEMA_VERSION,
    DefectClass,
    FiniteFloat,
    Name,
    OpaqueId,
    Sha256Hex,
    UtcDatetime,
    Verdict,
)
from lineguard.contracts.fields import WireMessage as _Message
from lineguard.contracts.ppe import PpeCounts
from lineguard.contracts.stages import MAX_STAGES_PER_PART, PartStageVerdict, StageResult, worst_verdict

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_EVENTS_PER_BATCH",
    "SCHEMA_VERSION",
    "Alert",
    "AlertKind",
    "AlertSeverity",
    "BoundingBox",
    "CameraHealth",
    "DefectClass",
    "DefectRegion",
    "FiniteFloat",
    "IngestBatch",
    "InspectionEvent",
    "ModelRef",
    "Name",
    "NodeHeartbeat",
    "OpaqueId",
    "PartAnomaly",
    "PartClosedBy",
    "PartIdSource",
    "PartVerdict",
    "Sha256Hex",
    "UtcDatetime",
    "Verdict",
    "WorkOrderTrigger",
]

MAX_EVENTS_PER_BATCH = 500
MAX_REGIONS_PER_EVENT = 64
#: Largest accepted serialized batch. A full batch of 500 events with regions is ~400 KiB.
MAX_BATCH_BYTES = 1_048_576


class ModelRef(_Message):
    model_id: OpaqueId = Field(title="Model id", description="Registry id of the model package.")
    version: int = Field(ge=1, title="Release version", description="Monotonic release number.")
    sha256: Sha256Hex = Field(title="Digest", description="sha256 of the ONNX graph that ran.")


class BoundingBox(_Message):
    """Pixel box in the coordinates of the full (uncropped) camera frame."""

    x: int = Field(ge=0, le=100_000)
    y: int = Field(ge=0, le=100_000)
    width: int = Field(gt=0, le=100_000)
    height: int = Field(gt=0, le=100_000)


class DefectRegion(_Message):
    defect_class: DefectClass = Field(
        title="Defect class", description="'anomaly' for unsupervised models, else a trained class."
    )
    score: FiniteFloat = Field(description="Peak anomaly score inside the region.")
    bbox: BoundingBox


class InspectionEvent(_Message):
    """The verdict on one part (or frame) at one station."""

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: OpaqueId
    idempotency_key: OpaqueId = Field(
        description="Stable across retries; the server stores each key at most once per node."
    )
    node_id: Name
    site_id: Name
    line_id: Name
    station_id: Name
    camera_id: Name
    part_id: OpaqueId | None = None
    frame_id: int = Field(ge=0)
    captured_at: UtcDatetime
    model: ModelRef
    verdict: Verdict
    anomaly_score: FiniteFloat
    threshold: FiniteFloat
    regions: list[DefectRegion] = Field(default_factory=list, max_length=MAX_REGIONS_PER_EVENT)
    evidence_ref: OpaqueId | None = Field(
        default=None,
        description="Opaque id of the encrypted evidence object kept on the edge node; never image bytes.",
    )
    latency_ms: FiniteFloat = Field(ge=0, description="Frame arrival to decision.")


class PartIdSource(enum.StrEnum):
    """Where a part's identity came from, in order of preference."""

    LINE = "line"  # the line supplies it with the frame (encoder, PLC tag, MES, the synthetic line)
    BARCODE = "barcode"  # read from a code printed on the part
    TRIGGER = "trigger"  # an external trigger (photo-eye, PLC output) announced each part
    TRACKER = "tracker"  # none of those: the node's tracker on the conveyor


#: Why a part's fusion window closed.
PartClosedBy = Literal["next_part", "stuck", "idle", "shutdown"]
#: What was unusual about a part's frames (documented in docs/parts.md).
PartAnomaly = Literal["two_parts_in_view", "out_of_order", "stuck", "partial_only"]


class PartVerdict(_Message):
    """One verdict per physical part, fused over the frames in which the part was seen.

    Every count the server shows (yield, defect rate, Pareto, trends) counts these; the
    per-frame :class:`InspectionEvent` records stay as a diagnostic. ``anomaly_score`` is
    the fused score (the median over the complete frames); ``regions`` and the evidence are
    those of the decisive frame (see docs/parts.md for the fusion rule).
    """

    schema_version: Literal[1] = SCHEMA_VERSION
    part_verdict_id: OpaqueId
    idempotency_key: OpaqueId
    node_id: Name
    site_id: Name
    line_id: Name
    station_id: Name
    camera_id: Name
    part_id: OpaqueId | None = Field(
        default=None, description="The plant's id of the part (sealed at the server)."
    )
    id_source: PartIdSource
    first_frame_id: int = Field(ge=0)
    last_frame_id: int = Field(ge=0)
    first_seen_at: UtcDatetime
    last_seen_at: UtcDatetime
    frames: int = Field(ge=1, le=100_000, description="Frames that showed the part.")
    frames_fused: int = Field(ge=0, le=100_000, description="Frames the fusion rule judged on.")
    frames_expected: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description=(
            "Frames a part is expected to be judged on (edge.yaml parts.expected_frames_per_part); "
            "None: not configured (and in verdicts from before)."
        ),
    )
    views_short: bool = Field(
        default=False,
        description="The part was judged on fewer frames than expected (frames_fused < frames_expected).",
    )
    model: ModelRef
    verdict: Verdict
    anomaly_score: FiniteFloat
    threshold: FiniteFloat
    regions: list[DefectRegion] = Field(default_factory=list, max_length=MAX_REGIONS_PER_EVENT)
    decisive_event_id: OpaqueId = Field(description="The frame event whose score decided the verdict.")
    evidence_ref: OpaqueId | None = None
    closed_by: PartClosedBy = "next_part"
    anomalies: list[PartAnomaly] = Field(default_factory=list, max_length=4)
    stages: list[PartStageVerdict] = Field(
        default_factory=list,
        max_length=MAX_STAGES_PER_PART,
        description="Each configured stage's verdict; 'verdict' is the worst of them and the model's.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> PartVerdict:
        if self.frames_fused > self.frames:
            msg = f"frames_fused {self.frames_fused} exceeds frames {self.frames}"
            raise ValueError(msg)
        short = self.frames_expected is not None and self.frames_fused < self.frames_expected
        if self.views_short != short:
            msg = (
                f"views_short is {self.views_short} but {self.frames_fused} frames were fused of "
                f"{self.frames_expected} expected"
            )
            raise ValueError(msg)
        if self.last_seen_at < self.first_seen_at:
            msg = "last_seen_at is before first_seen_at"
            raise ValueError(msg)
        names = [s.stage for s in self.stages]
        if len(set(names)) != len(names):
            msg = f"a stage is listed twice: {sorted(names)}"
            raise ValueError(msg)
        if worst_verdict(self.verdict, *(s.verdict for s in self.stages)) is not self.verdict:
            msg = f"verdict {self.verdict.value!r} is milder than a stage's: a failing stage fails the part"
            raise ValueError(msg)
        return self


class AlertKind(enum.StrEnum):
    DEFECT = "defect"
    CAMERA_OFFLINE = "camera_offline"
    MODEL_REJECTED = "model_rejected"
    STAGE_REJECTED = "stage_rejected"  # a configured stage cannot run (e.g. no valid calibration)
    DISK_BUDGET = "disk_budget"
    PIPELINE_OVERLOAD = "pipeline_overload"
    DRIFT = "drift"  # image statistics or part scores left the camera's reference (edge.drift)


class AlertSeverity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Alert(_Message):
    schema_version: Literal[1] = SCHEMA_VERSION
    alert_id: OpaqueId
    idempotency_key: OpaqueId
    node_id: Name
    site_id: Name
    line_id: Name
    camera_id: Name | None = None
    kind: AlertKind
    severity: AlertSeverity
    raised_at: UtcDatetime
    message: str = Field(max_length=500)
    event_id: OpaqueId | None = Field(default=None, description="The inspection event that raised it.")
    defect_class: DefectClass | None = None


class WorkOrderTrigger(_Message):
    """A request that maintenance look at a station; the server decides whether a CMMS gets it."""

    schema_version: Literal[1] = SCHEMA_VERSION
    trigger_id: OpaqueId
    idempotency_key: OpaqueId
    node_id: Name
    site_id: Name
    line_id: Name
    station_id: Name
    created_at: UtcDatetime
    reason: str = Field(max_length=500)
    defect_class: DefectClass | None = None
    priority: Literal["low", "medium", "high"] = "medium"
    event_ids: list[OpaqueId] = Field(default_factory=list, max_length=100)


class CameraHealth(_Message):
    camera_id: Name
    state: Literal["connecting", "streaming", "reconnecting", "ended", "failed"]
    fps: FiniteFloat = Field(ge=0)
    latency_p50_ms: FiniteFloat = Field(ge=0)
    latency_p99_ms: FiniteFloat = Field(ge=0)
    frames_dropped: int = Field(ge=0)
    frames_corrupt: int = Field(ge=0, default=0)
    model: ModelRef | None = None


class NodeHeartbeat(_Message):
    schema_version: Literal[1] = SCHEMA_VERSION
    node_id: Name
    site_id: Name
    line_id: Name
    sent_at: UtcDatetime
    software_version: str = Field(max_length=64)
    uptime_s: FiniteFloat = Field(ge=0)
    outbox_backlog: int = Field(ge=0)
    disk_used_bytes: int = Field(ge=0)
    cameras: list[CameraHealth] = Field(default_factory=list, max_length=64)
    config_sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="Digest of the node's non-secret edge.yaml values (lineguard.config.digest): "
        "the server compares it with the edge.yaml it was given, so drift shows.",
    )


class IngestBatch(_Message):
    """What one ``POST /api/v1/ingest/batch`` carries; every item must name the sending node."""

    schema_version: Literal[1] = SCHEMA_VERSION
    node_id: Name
    sent_at: UtcDatetime
    events: list[InspectionEvent] = Field(default_factory=list, max_length=MAX_EVENTS_PER_BATCH)
    alerts: list[Alert] = Field(default_factory=list, max_length=MAX_EVENTS_PER_BATCH)
    work_orders: list[WorkOrderTrigger] = Field(default_factory=list, max_length=100)
    parts: list[PartVerdict] = Field(default_factory=list, max_length=MAX_EVENTS_PER_BATCH)
    stage_results: list[StageResult] = Field(
        default_factory=list,
        max_length=MAX_EVENTS_PER_BATCH,
        description="What each configured stage (gauging, label, …) found; see contracts/stages.py.",
    )
    ppe_counts: list[PpeCounts] = Field(
        default_factory=list,
        max_length=MAX_EVENTS_PER_BATCH,
        description="Hourly PPE counts per zone, small counts suppressed; see contracts/ppe.py.",
    )

    @model_validator(mode="after")
    def _items_belong_to_sender(self) -> IngestBatch:
        items: list[InspectionEvent | Alert | WorkOrderTrigger | PartVerdict | StageResult | PpeCounts] = [
            *self.events,
            *self.parts,
            *self.stage_results,
            *self.ppe_counts,
            *self.alerts,
            *self.work_orders,
        ]
        for item in items:
            if item.node_id != self.node_id:
                msg = f"item node_id {item.node_id!r} differs from batch node_id {self.node_id!r}"
                raise ValueError(msg)
        return self
