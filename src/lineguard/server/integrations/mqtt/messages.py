"""What the MQTT publisher sends: inspection metadata as JSON, topic per line and camera.

Only metadata leaves: a verdict names the event, camera, verdict, score, defect
classes and model, never the part id (stored sealed), the image or its evidence
reference; an alert names its kind, severity and class, never its free-text message.

* ``<prefix>/<site>/<line>/<camera>/verdict`` — one per inspected part (QoS 1);
* ``<prefix>/<site>/<line>/alert`` — one per alert (QoS 1);
* ``<prefix>/<site>/<line>/state`` — the line's counts for the current UTC hour,
  **retained**, so a subscriber that connects later sees the line's state at once;
* ``<prefix>/<site>/server/status`` — ``online``, or ``offline`` (retained; the
  broker publishes ``offline`` as the connection's will when it dies).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lineguard.crypto import utc_text
from lineguard.server.ingest import AlertRow, InspectionEventRow

__all__ = ["LineCounts", "Outgoing", "alert_message", "line_state_message", "status_topic", "verdict_message"]


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    payload: bytes
    retain: bool = False


@dataclass(frozen=True, slots=True)
class LineCounts:
    site_id: str
    line_id: str
    hour: str
    inspected: int
    passed: int
    failed: int
    uncertain: int

    @property
    def yield_ratio(self) -> float:
        return self.passed / self.inspected if self.inspected else 1.0


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def verdict_message(prefix: str, row: InspectionEventRow) -> Outgoing:
    classes = sorted({str(r.get("defect_class")) for r in row.regions or [] if r.get("defect_class")})
    document = {
        "event_id": row.event_id,
        "captured_at": utc_text(row.captured_at),
        "station_id": row.station_id,
        "camera_id": row.camera_id,
        "verdict": row.verdict,
        "anomaly_score": row.anomaly_score,
        "threshold": row.threshold,
        "defect_classes": classes,
        "model": {"id": row.model_id, "version": row.model_version},
    }
    return Outgoing(f"{prefix}/{row.site_id}/{row.line_id}/{row.camera_id}/verdict", _json(document))


def alert_message(prefix: str, row: AlertRow) -> Outgoing:
    document = {
        "alert_id": row.alert_id,
        "raised_at": utc_text(row.raised_at),
        "kind": row.kind,
        "severity": row.severity,
        "camera_id": row.camera_id,
        "defect_class": row.defect_class,
        "event_id": row.event_id,
    }
    return Outgoing(f"{prefix}/{row.site_id}/{row.line_id}/alert", _json(document))


def line_state_message(prefix: str, counts: LineCounts, *, updated_at: str) -> Outgoing:
    document = {
        "line_id": counts.line_id,
        "hour": counts.hour,
        "inspected": counts.inspected,
        "passed": counts.passed,
        "failed": counts.failed,
        "uncertain": counts.uncertain,
        "yield": round(counts.yield_ratio, 6),
        "updated_at": updated_at,
    }
    return Outgoing(f"{prefix}/{counts.site_id}/{counts.line_id}/state", _json(document), retain=True)


def status_topic(prefix: str, site_id: str) -> str:
    return f"{prefix}/{site_id}/server/status"
