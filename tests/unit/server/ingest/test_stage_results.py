"""Stage results (gauging, label, …) over real HTTPS + mTLS: stored once, owned by the node."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from lineguard.edge.identity import enroll, https_client
from lineguard.server.dashboard.parts import part_of_record
from lineguard.server.ingest.models import InspectionEventRow, PartVerdictRow, StageResultRow
from lineguard.server.protection import NoEncryption
from tests.unit.server.conftest import Plant
from tests.unit.server.ingest import factory

BATCH = "/api/v1/ingest/batch"
HOLE = {
    "characteristic": "hole_a",
    "value": 8.02,
    "uncertainty": 0.012,
    "unit": "mm",
    "nominal": 8.0,
    "lower_limit": 7.9,
    "upper_limit": 8.1,
}


@pytest.fixture
def node_a(plant: Plant, tmp_path: Path) -> Iterator[httpx.Client]:
    enroll(plant.url, plant.token("node-a", cameras=("cam-1",)), tmp_path / "a")
    with https_client(tmp_path / "a") as client:
        yield client


def _failed_part() -> tuple[dict[str, object], dict[str, object], dict[str, object]]:
    event = factory.event("node-a", at=datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
    part = factory.part_of([event])
    result = factory.stage_result(
        part, verdict="fail", measurements=[HOLE | {"value": 8.31, "in_tolerance": False}]
    )
    part |= {
        "verdict": "fail",
        "stages": [
            {"stage": "gauge", "kind": "gauging", "verdict": "fail", "result_id": result["result_id"]}
        ],
    }
    return event, part, result


def test_stage_results_are_stored_once_beside_the_part_they_judged(
    plant: Plant, node_a: httpx.Client
) -> None:
    event, part, result = _failed_part()
    body = factory.batch("node-a", [event], parts=[part]) | {"stage_results": [result]}
    first = node_a.post(BATCH, json=body)
    assert first.status_code == 200, first.text
    assert first.json()["stored"] == 3
    again = node_a.post(BATCH, json=body).json()
    assert (again["stored"], again["duplicates"]) == (0, 3)
    with plant.session() as s:
        (row,) = s.scalars(select(StageResultRow)).all()
        stored_part = s.scalars(select(PartVerdictRow)).one()
    assert (row.result_id, row.part_verdict_id, row.kind, row.verdict) == (
        result["result_id"],
        part["part_verdict_id"],
        "gauging",
        "fail",
    )
    assert row.measurements[0]["value"] == 8.31 and row.measurements[0]["in_tolerance"] is False
    assert row.reasons[0]["subject"] == "hole_a"
    assert row.inputs == [{"name": "calibration", "version": 1, "sha256": "a" * 64}]
    assert stored_part.verdict == "fail" and stored_part.stages[0]["result_id"] == result["result_id"]


def test_a_stage_result_for_a_camera_not_enrolled_refuses_the_whole_batch(
    plant: Plant, node_a: httpx.Client
) -> None:
    event, part, result = _failed_part()
    body = factory.batch("node-a", [event], parts=[part]) | {
        "stage_results": [result | {"camera_id": "cam-9"}]
    }
    r = node_a.post(BATCH, json=body)
    assert r.status_code == 403
    assert r.json()["details"] == ["stage_results[0].camera_id: 'cam-9' is not enrolled for node 'node-a'"]
    with plant.session() as s:
        assert s.scalars(select(StageResultRow)).all() == []
        assert s.scalars(select(PartVerdictRow)).all() == []


def test_a_malformed_stage_result_is_422_and_nothing_is_stored(plant: Plant, node_a: httpx.Client) -> None:
    event, part, result = _failed_part()
    body = factory.batch("node-a", [event], parts=[part]) | {"stage_results": [result | {"reasons": []}]}
    r = node_a.post(BATCH, json=body)
    assert r.status_code == 422
    assert "needs at least one reason" in r.text
    with plant.session() as s:
        assert s.scalars(select(PartVerdictRow)).all() == []


def test_views_short_and_the_frames_a_result_rests_on_are_stored_and_shown_with_the_part(
    plant: Plant, node_a: httpx.Client
) -> None:
    """A part judged on 1 frame of 5 expected, gauged on three frames; a second stage result as an older
    node sends it (no frame_ids) reads as resting on its frame_id alone."""
    event, part, result = _failed_part()
    part |= {"frames_expected": 5, "views_short": True}
    first = part["first_frame_id"]
    assert isinstance(first, int)
    result |= {"frame_ids": [first + 2, first, first + 1]}
    older = factory.stage_result(part, stage="label")
    body = factory.batch("node-a", [event], parts=[part]) | {"stage_results": [result, older]}
    r = node_a.post(BATCH, json=body)
    assert r.status_code == 200, r.text
    with plant.session() as s:
        rows = {row.stage: row for row in s.scalars(select(StageResultRow))}
        stored = s.scalars(select(PartVerdictRow)).one()
        record = s.scalars(select(InspectionEventRow)).one()
        view = part_of_record(s, record=record, sealer=NoEncryption())
    assert (stored.frames_expected, stored.views_short, stored.frames_fused) == (5, True, 1)
    assert rows["gauge"].frame_ids == [first + 2, first, first + 1] and rows["label"].frame_ids is None
    assert view is not None and (view.frames_expected, view.views_short) == (5, True)
    stages = {st.stage: st for st in view.stages}
    assert (stages["gauge"].frame_id, stages["gauge"].frame_ids) == (first, [first + 2, first, first + 1])
    assert stages["label"].frame_ids == [older["frame_id"]]


@pytest.mark.parametrize(
    ("part_extra", "result_extra", "expected"),
    [
        ({"frames_expected": 5}, {}, "views_short is False but 1 frames were fused of 5 expected"),
        ({"views_short": True}, {}, "views_short is True"),
        ({}, {"frame_ids": [3, 3]}, "more than once"),
        ({}, {"frame_ids": [-1]}, "stage_results[0].frame_ids[0]: must be >= 0"),
    ],
)
def test_inconsistent_frame_counts_or_frame_ids_are_422_and_nothing_is_stored(
    plant: Plant,
    node_a: httpx.Client,
    part_extra: dict[str, object],
    result_extra: dict[str, object],
    expected: str,
) -> None:
    event, part, result = _failed_part()
    body = factory.batch("node-a", [event], parts=[part])  # valid, then broken as a node bug would
    body |= {"parts": [part | part_extra], "stage_results": [result | result_extra]}
    r = node_a.post(BATCH, json=body)
    assert r.status_code == 422 and expected in r.text
    with plant.session() as s:
        assert s.scalars(select(PartVerdictRow)).all() == []
        assert s.scalars(select(StageResultRow)).all() == []
