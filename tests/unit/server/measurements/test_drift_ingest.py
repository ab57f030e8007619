"""Measurements arrive with stage results over real mTLS ingest; a drifting characteristic
becomes one spc_drift review item while every part still passes (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select

from lineguard.edge.identity import enroll, https_client
from lineguard.server.measurements import MeasurementRow
from lineguard.server.review import ReviewItemRow
from tests.unit.server.conftest import Plant
from tests.unit.server.ingest import factory

BATCH = "/api/v1/ingest/batch"
START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def node_a(plant: Plant, tmp_path: Path) -> Iterator[httpx.Client]:
    enroll(plant.url, plant.token("node-a", cameras=("cam-1",)), tmp_path / "a")
    with https_client(tmp_path / "a") as client:
        yield client


def _part_with_diameter(i: int, measured: float) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    value = float(measured)
    event = factory.event("node-a", at=START + timedelta(seconds=10 * i))
    part = factory.part_of([event])
    hole = {"characteristic": "hole_a_diameter", "value": round(value, 5), "uncertainty": 0.004, "unit": "mm"}
    hole |= {"nominal": 8.0, "lower_limit": 7.9, "upper_limit": 8.1, "in_tolerance": 7.9 <= value <= 8.1}
    present = {"characteristic": "hole_c_present", "value": 1.0, "uncertainty": 0.0, "unit": "count"}
    result = factory.stage_result(part, measurements=[hole, present])
    part |= {
        "stages": [{"stage": "gauge", "kind": "gauging", "verdict": "pass", "result_id": result["result_id"]}]
    }
    return event, part, result


def _send(client: httpx.Client, values: list[float], offset: int) -> None:
    triples = [_part_with_diameter(offset + i, v) for i, v in enumerate(values)]
    body = factory.batch("node-a", [t[0] for t in triples], parts=[t[1] for t in triples])
    body["stage_results"] = [t[2] for t in triples]
    r = client.post(BATCH, json=body)
    assert r.status_code == 200, r.text


def _drift_items(plant: Plant) -> list[ReviewItemRow]:
    with plant.session() as s:
        return list(s.scalars(select(ReviewItemRow).where(ReviewItemRow.subject_kind == "spc_drift")))


def test_a_drift_is_recommended_for_review_before_any_part_fails(plant: Plant, node_a: httpx.Client) -> None:
    rng = np.random.default_rng(7)
    stable = list(8.0 + rng.normal(0, 0.01, 100))
    _send(node_a, stable[:50], 0)
    _send(node_a, stable[50:], 50)
    assert _drift_items(plant) == []  # the baseline: nothing to compare with yet
    drifting = [8.0 + 0.0006 * i + rng.normal(0, 0.01) for i in range(60)]  # still inside 7.9 … 8.1
    assert all(7.9 <= v <= 8.1 for v in drifting)
    _send(node_a, drifting[:30], 100)
    _send(node_a, drifting[30:], 130)
    items = _drift_items(plant)
    assert items, "the drift was not recommended for review"
    proposal = items[0].ai_proposal
    assert (proposal["characteristic"], proposal["side"], proposal["station_id"]) == (
        "hole_a_diameter",
        "above",
        "st-1",
    )
    assert proposal["limit"] == 8.1 and "before parts go out of tolerance" in proposal["action"]
    assert {i.line_id for i in items} == {"line-1"}
    with plant.session() as s:
        stored = s.scalar(select(func.count()).select_from(MeasurementRow))
        assert stored == 2 * 160  # diameter and presence, once each per part
        verdicts = s.scalars(select(ReviewItemRow.subject_kind)).all()
    assert "part_verdict" not in verdicts  # a recommendation, never a fail
    assert "ai.recommendation" in plant.audit.names()
    # A retried batch stores nothing twice and raises nothing new.
    before = len(items)
    _send_again = [_part_with_diameter(200 + i, v) for i, v in enumerate(drifting[:5])]
    body = factory.batch("node-a", [t[0] for t in _send_again], parts=[t[1] for t in _send_again])
    body["stage_results"] = [t[2] for t in _send_again]
    assert node_a.post(BATCH, json=body).json()["stored"] == 15
    assert node_a.post(BATCH, json=body).json()["duplicates"] == 15
    with plant.session() as s:
        assert s.scalar(select(func.count()).select_from(MeasurementRow)) == 2 * 165
    assert len(_drift_items(plant)) >= before
