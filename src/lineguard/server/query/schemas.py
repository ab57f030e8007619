"""What the dashboard queries return."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

__all__ = [
    "AlertView",
    "CameraHealthView",
    "DefectClassPoint",
    "ModelVersionSeen",
    "NodeHealthView",
    "ParetoEntry",
    "QualityPoint",
]


class _View(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QualityPoint(_View):
    bucket_start: datetime
    line_id: str | None
    camera_id: str | None
    inspected: int
    passed: int
    failed: int
    uncertain: int
    #: Frames that showed these parts, and how many of them failed (a diagnostic: the
    #: counts above are parts).
    frames: int
    frames_failed: int
    #: passed / inspected (None when nothing was inspected).
    yield_rate: float | None
    #: failed / inspected.
    defect_rate: float | None


class DefectClassPoint(_View):
    bucket_start: datetime
    defect_class: str
    #: Failed or uncertain parts with at least one region of this class.
    parts: int
    #: parts / all inspected parts in the bucket (same filters).
    rate: float | None


class ParetoEntry(_View):
    defect_class: str
    parts: int
    share: float
    cumulative_share: float


class ModelVersionSeen(_View):
    """One model release that judged parts in the caller's scope."""

    model_id: str
    #: The release number (``ModelRef.version``); pass it back as ``model_version``.
    model_version: int
    #: Start of the first and of the last UTC hour with parts judged by this release.
    first_hour: datetime
    last_hour: datetime
    inspected: int


class AlertView(_View):
    alert_id: str
    node_id: str
    line_id: str
    camera_id: str | None
    kind: str
    severity: str
    raised_at: datetime
    message: str
    defect_class: str | None


class CameraHealthView(_View):
    camera_id: str
    state: str
    fps: float
    latency_p50_ms: float
    latency_p99_ms: float
    frames_dropped: int
    model_id: str | None
    model_version: int | None
    updated_at: datetime


class NodeHealthView(_View):
    node_id: str
    line_id: str
    status: str
    last_seen_at: datetime | None
    online: bool
    software_version: str | None
    outbox_backlog: int | None
    disk_used_bytes: int | None
    cameras: list[CameraHealthView]
