"""Stage results as a node sends them, for the label-check and thermal views' tests.

``label_part`` builds one label station's part (frame event, part verdict and label stage
result; reasons as ``edge/labels`` gives them). ``thermal_reading`` / ``thermal_alarm`` /
``thermal_recommendation`` build what a thermal camera's reporter sends (``edge/thermal/report.py``).
``ingest`` stores them through the real ingest service, as a node's batch would.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from lineguard.contracts.events import IngestBatch
from lineguard.contracts.ids import new_id
from lineguard.server.context import ServerContext
from lineguard.server.ingest import service as ingest_service
from lineguard.server.nodes import NodeIdentity
from tests.unit.server.ingest import factory

__all__ = ["ingest", "label_part", "thermal_alarm", "thermal_reading", "thermal_recommendation"]


def ingest(
    context: ServerContext,
    node: NodeIdentity,
    *,
    events: Sequence[dict[str, Any]] = (),
    parts: Sequence[dict[str, Any]] = (),
    stage_results: Sequence[dict[str, Any]] = (),
    audit: Any = None,
) -> None:
    body = {
        "node_id": node.node_id,
        "sent_at": datetime.now(UTC).isoformat(),
        "events": list(events),
        "parts": list(parts),
        "stage_results": list(stage_results),
    }
    with context.sessions() as session:
        ingest_service.ingest_batch(
            session,
            node=node,
            batch=IngestBatch.model_validate(body),
            sealer=context.sealer,
            audit=audit or context.audit,
        )


def label_part(
    node: NodeIdentity,
    *,
    camera_id: str,
    station_id: str,
    at: datetime,
    reasons: Sequence[tuple[str, str]] = (),
    verdict: str | None = None,
    frame_id: int = 1,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(event, part verdict, label result) of one part; ``reasons`` as (code, field)."""
    judged = verdict or ("fail" if reasons else "pass")
    event = factory.event(
        node.node_id, camera_id=camera_id, line_id=node.line_id, site_id=node.site_id, at=at
    )
    event |= {"station_id": station_id, "frame_id": frame_id, "part_id": f"L-{frame_id:06d}"}
    part = factory.part_of([event])
    result = factory.stage_result(part, verdict=judged, stage="label-check")
    result |= {
        "kind": "label",
        "reasons": [
            {"code": code, "subject": field, "message": f"{field}: {code}"} for code, field in reasons
        ],
        "inputs": [],
    }
    part |= {
        "verdict": "pass" if judged == "pass" else judged,
        "stages": [
            {"stage": "label-check", "kind": "label", "verdict": judged, "result_id": result["result_id"]}
        ],
    }
    return event, part, result


def _thermal(
    node: NodeIdentity, camera_id: str, station_id: str, at: datetime, verdict: str, **fields: Any
) -> dict[str, Any]:
    result_id = new_id("stg")
    return {
        "result_id": result_id,
        "idempotency_key": f"{node.node_id}:{result_id}",
        "node_id": node.node_id,
        "site_id": node.site_id,
        "line_id": node.line_id,
        "station_id": station_id,
        "camera_id": camera_id,
        "stage": "motor-view",
        "kind": "thermal",
        "frame_id": 1,
        "captured_at": at.isoformat(),
        "verdict": verdict,
        "latency_ms": 0.0,
        **fields,
    }


def thermal_reading(
    node: NodeIdentity,
    *,
    camera_id: str,
    station_id: str,
    at: datetime,
    assets: dict[str, tuple[float, float, float, float]],
    trend_limit_c: float | None = 4.0,
) -> dict[str, Any]:
    """A reading: asset → (hottest °C, band low, band high, trend °C)."""
    measurements = []
    for asset, (hottest, low, high, trend) in assets.items():
        measurements += [
            {
                "characteristic": f"{asset}.max",
                "value": hottest,
                "uncertainty": 2.0,
                "unit": "degC",
                "nominal": round((low + high) / 2, 2),
                "lower_limit": low,
                "upper_limit": high,
                "in_tolerance": low <= hottest <= high,
            },
            {
                "characteristic": f"{asset}.trend",
                "value": trend,
                "uncertainty": 2.0,
                "unit": "degC",
                "upper_limit": trend_limit_c,
                "in_tolerance": trend_limit_c is None or trend < trend_limit_c,
            },
        ]
    return _thermal(node, camera_id, station_id, at, "pass", measurements=measurements)


def thermal_alarm(
    node: NodeIdentity,
    *,
    camera_id: str,
    station_id: str,
    at: datetime,
    asset: str,
    value: float,
    limit: float,
) -> dict[str, Any]:
    return _thermal(
        node,
        camera_id,
        station_id,
        at,
        "fail",
        reasons=[
            {"code": "hot_spot", "subject": asset, "message": f"hot spot {value:.1f} °C above {limit:.1f} °C"}
        ],
        measurements=[
            {
                "characteristic": f"{asset}.hot_spot",
                "value": value,
                "uncertainty": 2.0,
                "unit": "degC",
                "upper_limit": limit,
                "in_tolerance": False,
            }
        ],
    )


def thermal_recommendation(
    node: NodeIdentity,
    *,
    camera_id: str,
    station_id: str,
    at: datetime,
    asset: str,
    trend: float,
    limit: float,
) -> dict[str, Any]:
    return _thermal(
        node,
        camera_id,
        station_id,
        at,
        "uncertain",
        reasons=[
            {
                "code": "maintenance_recommended",
                "subject": asset,
                "message": f"{asset} runs {trend:.1f} °C above its normal: schedule an inspection",
            }
        ],
        measurements=[
            {
                "characteristic": f"{asset}.trend",
                "value": trend,
                "uncertainty": 2.0,
                "unit": "degC",
                "upper_limit": limit,
                "in_tolerance": False,
            },
            {"characteristic": f"{asset}.slope", "value": 1.0, "uncertainty": 0.0, "unit": "degC/h"},
        ],
    )
