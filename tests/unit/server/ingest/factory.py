"""Build contract-valid ingest messages for tests and benchmarks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from lineguard.contracts.events import IngestBatch, NodeHeartbeat
from lineguard.contracts.ids import new_id

MODEL = {"model_id": "mdl_tile", "version": 3, "sha256": "ab" * 32}


def event(
    node_id: str,
    *,
    camera_id: str = "cam-1",
    line_id: str = "line-1",
    site_id: str = "plant-a",
    verdict: str = "pass",
    defects: tuple[str, ...] = (),
    at: datetime | None = None,
    key: str | None = None,
    part_id: str | None = None,
    model: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "event_id": new_id("evt"),
        "idempotency_key": key or new_id("idk"),
        "node_id": node_id,
        "site_id": site_id,
        "line_id": line_id,
        "station_id": "st-1",
        "camera_id": camera_id,
        "part_id": part_id,
        "frame_id": 7,
        "captured_at": (at or datetime.now(UTC)).isoformat(),
        "model": model or MODEL,
        "verdict": verdict,
        "anomaly_score": 0.9 if verdict != "pass" else 0.1,
        "threshold": 0.5,
        "regions": [
            {"defect_class": d, "score": 0.9, "bbox": {"x": 1, "y": 2, "width": 3, "height": 4}}
            for d in defects
        ],
        "latency_ms": 12.5,
    }


def alert(
    node_id: str, *, line_id: str = "line-1", camera_id: str | None = "cam-1", event_id: str | None = None
) -> dict[str, Any]:
    return {
        "alert_id": new_id("alr"),
        "idempotency_key": new_id("idk"),
        "node_id": node_id,
        "site_id": "plant-a",
        "line_id": line_id,
        "camera_id": camera_id,
        "kind": "defect",
        "severity": "warning",
        "raised_at": datetime.now(UTC).isoformat(),
        "message": "scratch on part P-1234 for customer ACME",
        "defect_class": "scratch",
        "event_id": event_id,
    }


def part_of(frames: list[dict[str, Any]], *, key: str | None = None) -> dict[str, Any]:
    """The part verdict a node would send for ``frames`` (one part): fused by the max rule."""
    decisive = max(frames, key=lambda e: e["anomaly_score"])
    part_verdict_id = new_id("prt")
    return {
        "part_verdict_id": part_verdict_id,
        "idempotency_key": key or f"idk-{part_verdict_id}",
        "node_id": decisive["node_id"],
        "site_id": decisive["site_id"],
        "line_id": decisive["line_id"],
        "station_id": decisive["station_id"],
        "camera_id": decisive["camera_id"],
        "part_id": decisive["part_id"],
        "id_source": "line" if decisive["part_id"] else "tracker",
        "first_frame_id": min(e["frame_id"] for e in frames),
        "last_frame_id": max(e["frame_id"] for e in frames),
        "first_seen_at": min(e["captured_at"] for e in frames),
        "last_seen_at": max(e["captured_at"] for e in frames),
        "frames": len(frames),
        "frames_fused": len(frames),
        "model": decisive["model"],
        "verdict": decisive["verdict"],
        "anomaly_score": decisive["anomaly_score"],
        "threshold": decisive["threshold"],
        "regions": decisive["regions"],
        "decisive_event_id": decisive["event_id"],
    }


def batch(
    node_id: str,
    events: list[dict[str, Any]],
    alerts: list[dict[str, Any]] | None = None,
    parts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A batch; without ``parts``, each event is a part seen in one frame (a triggered camera)."""
    body = {
        "node_id": node_id,
        "sent_at": datetime.now(UTC).isoformat(),
        "events": events,
        "alerts": alerts or [],
        "parts": [part_of([e]) for e in events] if parts is None else parts,
    }
    IngestBatch.model_validate(body)  # the factory itself must produce valid messages
    return body


def mixed_events(node_id: str, n: int, *, start: datetime, camera_id: str = "cam-1") -> list[dict[str, Any]]:
    """n events one minute apart: every 5th fails with a scratch, every 7th is uncertain with a dent."""
    out = []
    for i in range(n):
        at = start + timedelta(minutes=i)
        if i % 5 == 0:
            out.append(event(node_id, camera_id=camera_id, verdict="fail", defects=("scratch",), at=at))
        elif i % 7 == 0:
            out.append(
                event(node_id, camera_id=camera_id, verdict="uncertain", defects=("dent", "scratch"), at=at)
            )
        else:
            out.append(event(node_id, camera_id=camera_id, at=at))
    return out


def heartbeat(node_id: str, *, cameras: tuple[str, ...] = ("cam-1",), backlog: int = 3) -> dict[str, Any]:
    body = {
        "node_id": node_id,
        "site_id": "plant-a",
        "line_id": "line-1",
        "sent_at": datetime.now(UTC).isoformat(),
        "software_version": "0.1.0",
        "uptime_s": 120.0,
        "outbox_backlog": backlog,
        "disk_used_bytes": 1000,
        "cameras": [
            {
                "camera_id": c,
                "state": "streaming",
                "fps": 29.5,
                "latency_p50_ms": 11.0,
                "latency_p99_ms": 30.0,
                "frames_dropped": 2,
                "model": MODEL,
            }
            for c in cameras
        ],
    }
    NodeHeartbeat.model_validate(body)
    return body


def stage_result(
    part: dict[str, Any],
    *,
    verdict: str = "pass",
    measurements: list[dict[str, Any]] | None = None,
    camera_id: str | None = None,
    stage: str = "gauge",
) -> dict[str, Any]:
    """What a node's gauging stage sends for ``part`` (a part verdict from :func:`part_of`)."""
    result_id = new_id("stg")
    reasons = (
        []
        if verdict == "pass"
        else [{"code": "out_of_tolerance", "subject": "hole_a", "message": "8.31 mm above 8.10 mm"}]
    )
    return {
        "result_id": result_id,
        "idempotency_key": f"idk-{result_id}",
        "node_id": part["node_id"],
        "site_id": part["site_id"],
        "line_id": part["line_id"],
        "station_id": part["station_id"],
        "camera_id": camera_id or part["camera_id"],
        "stage": stage,
        "kind": "gauging",
        "part_verdict_id": part["part_verdict_id"],
        "frame_id": part["last_frame_id"],
        "captured_at": part["last_seen_at"],
        "verdict": verdict,
        "reasons": reasons,
        "measurements": measurements or [],
        "inputs": [{"name": "calibration", "version": 1, "sha256": "a" * 64}],
        "latency_ms": 2.5,
    }
