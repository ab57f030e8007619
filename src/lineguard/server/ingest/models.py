"""Tables written by ingest: per-part verdicts, per-frame inspection events (a
diagnostic), alerts, work-order triggers, the hourly rollup that dashboard queries
read, the latest health of each node and camera, and per-node ingest counters.

Sized for tens of millions of events: the raw table carries the indexes its reads need
(an event by id; time, for retention; line and camera each with time; a line's failures
in a partial index of the failing events) and no others, since every event is written
into each of them (ingest_0010 dropped ``(verdict, captured_at)`` here and ``(verdict,
first_seen_at)`` on ``part_verdicts``, which nothing read),
and every aggregate the dashboard shows comes from
``rollup_hourly`` and ``rollup_daily``, which ingest
maintains in the same transaction as the rows it counts. Each item is stored at most once per
``(node_id, idempotency_key)`` (a unique constraint, not a check in Python).
Fields that may carry plant information in free text (part ids, alert messages,
work-order reasons) are stored sealed (envelope-encrypted) as bytes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from lineguard.server.storage import Base, UtcDateTime, utcnow

__all__ = [
    "ALL_PARTS",
    "UNKNOWN_MODEL_ID",
    "UNKNOWN_MODEL_VERSION",
    "AlertRow",
    "CameraHealthRow",
    "IngestCounters",
    "InspectionEventRow",
    "NodeHealthRow",
    "PartVerdictRow",
    "RollupDaily",
    "RollupHourly",
    "StageResultRow",
    "WorkOrderRow",
]

#: ``rollup_hourly.defect_class`` of the row that counts every inspected part.
ALL_PARTS = ""

#: ``rollup_hourly.model_id`` / ``model_version`` of parts counted before the rollup kept
#: the model (a real release is never version 0: ``ModelRef.version >= 1``).
UNKNOWN_MODEL_ID = ""
UNKNOWN_MODEL_VERSION = 0

#: The partial index of failing events by line and time (ingest_0009), and its predicate:
#: a query must say exactly this (a literal, not a bound parameter) for the planner to use it.
FAILED_BY_LINE_INDEX = "ix_inspection_events_failed_line_id_captured_at"
FAILED_PREDICATE = "verdict = 'fail'"

#: Integer row ids stay internal (never in a URL); SQLite needs INTEGER for its rowid alias.
RowId = BigInteger().with_variant(Integer(), "sqlite")


class InspectionEventRow(Base):
    __tablename__ = "inspection_events"
    __table_args__ = (
        UniqueConstraint("node_id", "idempotency_key"),
        Index(None, "event_id"),
        Index(None, "captured_at"),
        Index(None, "line_id", "captured_at"),
        Index(None, "camera_id", "captured_at"),
        # A line's failures over a time range (the drill-down from a day's yield): only
        # failing events enter it (1 in 20: a twentieth of a full index's size and insert
        # cost), and ``count(*)`` over it is an index-only scan. A query uses it when it
        # says ``verdict = 'fail'`` (ingest_0009; docs/benchmarks.md "Monthly partitions").
        Index(
            FAILED_BY_LINE_INDEX,
            "line_id",
            "captured_at",
            postgresql_where=text(FAILED_PREDICATE),
            sqlite_where=text(FAILED_PREDICATE),
        ),
    )

    row_id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(128))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    node_id: Mapped[str] = mapped_column(String(64))
    site_id: Mapped[str] = mapped_column(String(64))
    line_id: Mapped[str] = mapped_column(String(64))
    station_id: Mapped[str] = mapped_column(String(64))
    camera_id: Mapped[str] = mapped_column(String(64))
    part_id_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    frame_id: Mapped[int] = mapped_column(BigInteger)
    captured_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    model_id: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[int] = mapped_column(Integer)
    model_sha256: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(16))
    anomaly_score: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    regions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    evidence_ref: Mapped[str | None] = mapped_column(String(128))
    latency_ms: Mapped[float] = mapped_column(Float)


class PartVerdictRow(Base):
    """One verdict per physical part (fused on the node over the frames that showed it).

    What every count of the dashboard counts; ``decisive_event_id`` names the frame event
    whose score decided, and the part's other frames share its ``part_id``.
    """

    __tablename__ = "part_verdicts"
    __table_args__ = (
        UniqueConstraint("node_id", "idempotency_key"),
        Index(None, "part_verdict_id"),
        Index(None, "first_seen_at"),
        Index(None, "line_id", "first_seen_at"),
        Index(None, "decisive_event_id"),
    )

    row_id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    part_verdict_id: Mapped[str] = mapped_column(String(128))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    node_id: Mapped[str] = mapped_column(String(64))
    site_id: Mapped[str] = mapped_column(String(64))
    line_id: Mapped[str] = mapped_column(String(64))
    station_id: Mapped[str] = mapped_column(String(64))
    camera_id: Mapped[str] = mapped_column(String(64))
    part_id_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_source: Mapped[str] = mapped_column(String(16))
    first_frame_id: Mapped[int] = mapped_column(BigInteger)
    last_frame_id: Mapped[int] = mapped_column(BigInteger)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    frames: Mapped[int] = mapped_column(Integer)
    frames_fused: Mapped[int] = mapped_column(Integer)
    #: Frames the node expected the part to be judged on (None: not configured, and before).
    frames_expected: Mapped[int | None] = mapped_column(Integer)
    #: Judged on fewer frames than expected (``frames_fused < frames_expected``).
    views_short: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    model_id: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[int] = mapped_column(Integer)
    model_sha256: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(16))
    anomaly_score: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    regions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    decisive_event_id: Mapped[str] = mapped_column(String(128))
    evidence_ref: Mapped[str | None] = mapped_column(String(128))
    closed_by: Mapped[str] = mapped_column(String(16))
    anomalies: Mapped[list[str]] = mapped_column(JSON)
    #: Each configured stage's verdict on the part (``contracts.stages.PartStageVerdict``).
    stages: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class StageResultRow(Base):
    """What one inspection stage (gauging, label, …) found on one part: ``contracts.stages``.

    ``part_verdict_id`` names the part verdict the result fed (that verdict lists each
    stage's say in ``stages``). Reasons, measurements and inputs are stored as sent; the
    measurements domain keeps one row per measured value for SPC.
    """

    __tablename__ = "stage_results"
    __table_args__ = (
        UniqueConstraint("node_id", "idempotency_key"),
        Index(None, "result_id"),
        Index(None, "part_verdict_id"),
        Index(None, "line_id", "captured_at"),
        Index(None, "kind", "verdict", "captured_at"),
    )

    row_id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    result_id: Mapped[str] = mapped_column(String(128))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    node_id: Mapped[str] = mapped_column(String(64))
    site_id: Mapped[str] = mapped_column(String(64))
    line_id: Mapped[str] = mapped_column(String(64))
    station_id: Mapped[str] = mapped_column(String(64))
    camera_id: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    part_verdict_id: Mapped[str | None] = mapped_column(String(128))
    frame_id: Mapped[int] = mapped_column(BigInteger)
    #: Every frame the result rests on (None: stored before, or a one-frame stage: frame_id alone).
    frame_ids: Mapped[list[int] | None] = mapped_column(JSON)
    captured_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    verdict: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    measurements: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    inputs: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    latency_ms: Mapped[float] = mapped_column(Float)

    @classmethod
    def of_kind_in_window(
        cls, kind: str, *, site_id: str, lines: frozenset[str] | None, start: datetime, end: datetime
    ) -> list[Any]:
        """Conditions for one kind's results of a site in ``[start, end)`` (``lines`` ``None``: all)."""
        where: list[Any] = [
            cls.kind == kind,
            cls.site_id == site_id,
            cls.captured_at >= start,
            cls.captured_at < end,
        ]
        if lines is not None:
            where.append(cls.line_id.in_(sorted(lines)))
        return where


class AlertRow(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("node_id", "idempotency_key"),
        Index(None, "alert_id"),
        Index(None, "raised_at"),
        Index(None, "line_id", "raised_at"),
    )

    row_id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(String(128))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    node_id: Mapped[str] = mapped_column(String(64))
    site_id: Mapped[str] = mapped_column(String(64))
    line_id: Mapped[str] = mapped_column(String(64))
    camera_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    message_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    event_id: Mapped[str | None] = mapped_column(String(128))
    defect_class: Mapped[str | None] = mapped_column(String(64))


class WorkOrderRow(Base):
    __tablename__ = "work_order_triggers"
    __table_args__ = (UniqueConstraint("node_id", "idempotency_key"), Index(None, "created_at"))

    row_id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    trigger_id: Mapped[str] = mapped_column(String(128))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    node_id: Mapped[str] = mapped_column(String(64))
    site_id: Mapped[str] = mapped_column(String(64))
    line_id: Mapped[str] = mapped_column(String(64))
    station_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    defect_class: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(16))
    event_ids: Mapped[list[str]] = mapped_column(JSON)


class RollupHourly(Base):
    """Inspected parts per (line, camera, defect class, hour, model version), by verdict.

    ``inspected``/``passed``/``failed``/``uncertain`` count **parts** (part verdicts);
    ``frames``/``frames_failed`` count the frames that showed them (a diagnostic: about
    six frames per part on a conveyor). Rows written before revision ingest_0006 counted
    frames: that revision moved those counts to the frame columns (parts unknown: 0).
    ``defect_class == ALL_PARTS`` counts every part; a named class counts the parts
    whose regions include that class (once per part), so yield, defect rate and Pareto
    are sums over this table. The model that judged the parts is part of the key, so
    every figure can be narrowed to one model version; rows counted before the rollup
    kept the model (revision ingest_0002) carry ``UNKNOWN_MODEL_ID`` / ``UNKNOWN_MODEL_VERSION``.
    """

    __tablename__ = "rollup_hourly"
    # Key order serves the dashboard's scans: one site, one class ("" for all parts),
    # a range of hours. SQLite stores the table clustered by that key (WITHOUT ROWID),
    # so a query reads one contiguous range. The hour index serves retention.
    __table_args__ = (Index(None, "hour"), {"sqlite_with_rowid": False})

    site_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    defect_class: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    line_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_id: Mapped[str] = mapped_column(
        String(128), primary_key=True, default=UNKNOWN_MODEL_ID, server_default=UNKNOWN_MODEL_ID
    )
    model_version: Mapped[int] = mapped_column(
        Integer, primary_key=True, default=UNKNOWN_MODEL_VERSION, server_default=str(UNKNOWN_MODEL_VERSION)
    )
    inspected: Mapped[int] = mapped_column(BigInteger, default=0)
    passed: Mapped[int] = mapped_column(BigInteger, default=0)
    failed: Mapped[int] = mapped_column(BigInteger, default=0)
    uncertain: Mapped[int] = mapped_column(BigInteger, default=0)
    frames: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    frames_failed: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class RollupDaily(Base):
    """``rollup_hourly`` summed per UTC day, kept by ingest in the same transaction.

    Series by day and Pareto charts over months read this table for the whole days of
    their range (24x fewer rows) and ``rollup_hourly`` only for the partial days at
    either end, so a quarter costs a few thousand rows whatever the event count.
    """

    __tablename__ = "rollup_daily"
    __table_args__ = (Index(None, "day"), {"sqlite_with_rowid": False})

    site_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    defect_class: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Midnight UTC starting the day.
    day: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    line_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_id: Mapped[str] = mapped_column(String(128), primary_key=True, default=UNKNOWN_MODEL_ID)
    model_version: Mapped[int] = mapped_column(Integer, primary_key=True, default=UNKNOWN_MODEL_VERSION)
    inspected: Mapped[int] = mapped_column(BigInteger, default=0)
    passed: Mapped[int] = mapped_column(BigInteger, default=0)
    failed: Mapped[int] = mapped_column(BigInteger, default=0)
    uncertain: Mapped[int] = mapped_column(BigInteger, default=0)
    frames: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    frames_failed: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class NodeHealthRow(Base):
    """The latest heartbeat of each node (one row per node, overwritten)."""

    __tablename__ = "node_health"

    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64))
    line_id: Mapped[str] = mapped_column(String(64))
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    software_version: Mapped[str] = mapped_column(String(64))
    uptime_s: Mapped[float] = mapped_column(Float)
    outbox_backlog: Mapped[int] = mapped_column(BigInteger)
    disk_used_bytes: Mapped[int] = mapped_column(BigInteger)
    #: Digest of the node's edge.yaml values, as the node reported it (None: an older node).
    config_sha256: Mapped[str | None] = mapped_column(String(64), default=None)


class CameraHealthRow(Base):
    __tablename__ = "camera_health"

    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(16))
    fps: Mapped[float] = mapped_column(Float)
    latency_p50_ms: Mapped[float] = mapped_column(Float)
    latency_p99_ms: Mapped[float] = mapped_column(Float)
    frames_dropped: Mapped[int] = mapped_column(BigInteger)
    frames_corrupt: Mapped[int] = mapped_column(BigInteger)
    model_id: Mapped[str | None] = mapped_column(String(128))
    model_version: Mapped[int | None] = mapped_column(Integer)
    model_sha256: Mapped[str | None] = mapped_column(String(64))


class IngestCounters(Base):
    """Per-node totals: what was stored, what was a duplicate, what was refused."""

    __tablename__ = "ingest_counters"

    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    batches_accepted: Mapped[int] = mapped_column(BigInteger, default=0)
    batches_rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    items_stored: Mapped[int] = mapped_column(BigInteger, default=0)
    items_duplicate: Mapped[int] = mapped_column(BigInteger, default=0)
    last_batch_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
