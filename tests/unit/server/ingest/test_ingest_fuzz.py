"""Fuzz the node routes over real mTLS: random bytes, random JSON and mutated valid
batches are always a clear 4xx (or a 200 for a still-valid batch), never a 5xx, and
a refused request stores nothing (checked after every example)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from lineguard.edge.identity import enroll, https_client
from lineguard.server.ingest.models import (
    AlertRow,
    InspectionEventRow,
    NodeHealthRow,
    PartVerdictRow,
    RollupHourly,
)
from tests.unit.server.conftest import Plant
from tests.unit.server.ingest import factory

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
VALID = factory.batch("node-f", [factory.event("node-f")])
EVENT_KEYS = sorted(VALID["events"][0])


@st.composite
def mutated_batches(draw: st.DrawFn) -> bytes:
    body = json.loads(json.dumps(VALID))
    event = body["events"][0]
    key = draw(st.sampled_from(EVENT_KEYS))
    event[key] = draw(json_values)
    return json.dumps(body).encode()


@pytest.fixture
def node(plant: Plant, tmp_path: Path) -> Iterator[httpx.Client]:
    enroll(plant.url, plant.token("node-f"), tmp_path / "f")
    with https_client(tmp_path / "f") as client:
        yield client


#: What a batch or a heartbeat may write.
STORED = (InspectionEventRow, PartVerdictRow, AlertRow, RollupHourly, NodeHealthRow)


def _stored(plant: Plant) -> list[int]:
    with plant.session() as s:
        return [s.scalar(select(func.count()).select_from(table)) or 0 for table in STORED]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=400) | json_values.map(lambda v: json.dumps(v).encode()) | mutated_batches())
def test_fuzzed_ingest_is_never_a_5xx(plant: Plant, node: httpx.Client, body: bytes) -> None:
    for path in ("/api/v1/ingest/batch", "/api/v1/ingest/heartbeat"):
        before = _stored(plant)
        r = node.post(path, content=body, headers={"content-type": "application/json"})
        assert r.status_code < 500, r.text
        assert r.status_code in {200, 403, 413, 422}, r.text
        if r.status_code != 200:
            assert set(r.json()) == {"code", "message", "details"}
            assert _stored(plant) == before, (path, r.text)


def test_nothing_is_stored_from_refused_requests(plant: Plant, node: httpx.Client) -> None:
    bad = json.loads(json.dumps(VALID))
    bad["events"][0]["regions"] = "not a list"
    assert node.post("/api/v1/ingest/batch", json=bad).status_code == 422
    with plant.session() as s:
        assert s.scalar(select(func.count()).select_from(InspectionEventRow)) == 0
