"""What the dashboard's own API routes return."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lineguard.contracts.stages import Measurement, StageReason
from lineguard.server.query import AlertView
from lineguard.server.review import ReviewItemView

__all__ = [
    "AlertDetail",
    "AlertPage",
    "EvidenceAnswer",
    "EvidenceRequest",
    "PageCursor",
    "PartFrame",
    "PartStage",
    "PartView",
    "QueuedAlert",
    "RecordView",
    "TruthScore",
]


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

    ``status`` is ``pending`` when the node holding the image was asked for it: the
    browser then polls ``view_url`` (``GET /api/v1/evidence-views/{view_id}``), which
    answers 202 until the node has uploaded and 200 with the image once. ``none`` when
    the node kept no image for this part.
    """

    event_id: str
    node_id: str
    evidence_ref: str | None
    status: Literal["pending", "none"]
    message: str
    purpose: str
    audited_at: datetime
    node_online: bool
    #: Whether the node asked for evidence requests within the last minute (a node with
    #: ``evidence.remote_view`` off never does).
    node_polling: bool = False
    view_id: str | None = None
    view_url: str | None = None


class QueuedAlert(_View):
    """One alert of the alerts page: the alert, its part and where its review stands."""

    alert: AlertView
    #: The part the alert is about (opened for the reader), when its record is stored.
    part_id: str | None
    #: The review item (state, version to send with a step); None for alerts stored
    #: before the review domain existed.
    review: ReviewItemView | None


class PageCursor(_View):
    """Where the next (older) page starts: send both as ``before_raised_at`` and ``before_id``."""

    before_raised_at: datetime
    before_id: str


class AlertPage(_View):
    items: list[QueuedAlert]
    #: None on the last page.
    next: PageCursor | None


class PartFrame(_View):
    """One frame in which the part was seen (a diagnostic: counts are in parts)."""

    event_id: str
    frame_id: int
    captured_at: datetime
    verdict: str
    anomaly_score: float
    has_evidence: bool
    #: The frame whose score decided the part's verdict.
    decisive: bool


class PartStage(_View):
    """What one inspection stage (gauging, label, …) found on the part, as the node sent it."""

    result_id: str
    stage: str
    kind: str
    camera_id: str
    captured_at: datetime
    #: The part's decisive frame, and every frame the result rests on (gauging: the views whose
    #: lengths were averaged, most centred first; results stored before name frame_id alone).
    frame_id: int
    frame_ids: list[int]
    verdict: str
    #: Why it did not pass: the code, the characteristic or label field, and a message.
    reasons: list[StageReason]
    #: Measured values with their uncertainty and tolerance (gauging).
    measurements: list[Measurement]


class PartView(_View):
    """The part a record belongs to: its fused verdict, its review, and its frames."""

    part_verdict_id: str
    part_id: str | None
    id_source: str
    verdict: str
    anomaly_score: float
    threshold: float
    first_seen_at: datetime
    last_seen_at: datetime
    frames_seen: int
    frames_fused: int
    #: Frames the node expected the part to be judged on (None: not configured), and whether it
    #: was judged on fewer (e.g. frames dropped under load).
    frames_expected: int | None = None
    views_short: bool = False
    decisive_event_id: str | None
    frames: list[PartFrame]
    #: Each stage's result for this part (none when the camera runs no stages).
    stages: list[PartStage] = Field(default_factory=list)
    #: The part-verdict review item, when the node asked a person to look (uncertain parts).
    review: ReviewItemView | None


class TruthScore(_View):
    """The AI's part verdicts in a window scored against parts whose truth is known."""

    source: str
    start: datetime
    end: datetime
    defective_parts: int
    good_parts: int
    #: Parts in the window whose id the ground truth does not list (not scored).
    unknown_parts: int
    defective_failed: int
    defective_flagged: int
    good_failed: int
    good_uncertain: int
    #: None when there was no part of that kind to score.
    recall: float | None
    recall_flagged: float | None
    false_reject_rate: float | None
    review_rate: float | None
