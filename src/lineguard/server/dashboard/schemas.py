"""What the dashboard's own API routes return."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lineguard.server.query.schemas import AlertView

__all__ = ["AlertDetail", "EvidenceAnswer", "EvidenceRequest", "RecordView"]


class _View(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RecordView(_View):
    """One inspection record as the detail page shows it (part id opened for the reader)."""

    event_id: str
    node_id: str
    line_id: str
    station_id: str
    camera_id: str
    part_id: str | None
    frame_id: int
    captured_at: datetime
    received_at: datetime
    model_id: str
    model_version: int
    model_sha256: str
    verdict: str
    anomaly_score: float
    threshold: float
    regions: list[dict[str, Any]]
    latency_ms: float
    #: Whether the node kept an evidence image; its reference is given only through the
    #: audited evidence route.
    has_evidence: bool


class AlertDetail(_View):
    alert: AlertView
    event_id: str | None
    #: The inspection record that raised the alert, when there is one and it is stored.
    record: RecordView | None


class EvidenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: str = Field(
        default="defect review",
        min_length=1,
        max_length=200,
        description="Why the image is opened (audited).",
    )


class EvidenceAnswer(_View):
    """The answer to an audited evidence request.

    ``status`` is ``available`` with the decrypted, redacted image, or ``held_on_node``
    when the server cannot fetch it (today: always; see docs/dashboard.md).
    """

    event_id: str
    node_id: str
    evidence_ref: str | None
    status: Literal["available", "held_on_node", "none"]
    message: str
    purpose: str
    audited_at: datetime
    node_online: bool
    media_type: str | None = None
    image_base64: str | None = None
