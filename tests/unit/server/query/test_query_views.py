"""The dashboard API's model filter over HTTP: ``GET /dashboard/model-versions`` lists
the releases in the caller's scope, and ``model_id`` / ``model_version`` narrow the
aggregate routes (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from lineguard.server.auth.catalog import Role
from lineguard.server.auth.matrix import MATRIX_SITE
from lineguard.server.ingest.models import ALL_PARTS, RollupHourly
from tests.unit.server.auth.harness import AuthHarness, running_harness

#: (line, model_id, model_version) -> inspected, passed in the seeded hour.
SEEDED = {
    ("line-1", "mdl_tile", 3): (100, 90),
    ("line-1", "mdl_tile", 4): (50, 49),
    ("line-2", "mdl_edge", 1): (10, 5),
}


@pytest.fixture
def plant(db_url: str, tmp_path: Path) -> Iterator[AuthHarness]:
    with running_harness(db_url, tmp_path / "server") as h:
        hour = h.clock.now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
        with h.context.sessions() as session:
            for (line, model_id, version), (inspected, passed) in SEEDED.items():
                session.add(
                    RollupHourly(
                        site_id=MATRIX_SITE, line_id=line, camera_id="cam-1", defect_class=ALL_PARTS,
                        hour=hour, model_id=model_id, model_version=version,
                        inspected=inspected, passed=passed, failed=inspected - passed, uncertain=0,
                    )
                )  # fmt: skip
            session.commit()
        yield h


def _range(h: AuthHarness) -> dict[str, str]:
    return {
        "start": (h.clock.now - timedelta(days=1)).isoformat(),
        "end": (h.clock.now + timedelta(hours=1)).isoformat(),
    }


def test_model_versions_lists_the_releases_in_scope(plant: AuthHarness) -> None:
    plant.sign_in(plant.add_person("q.line1", [Role.QUALITY_ENGINEER], lines=["line-1"]))
    response = plant.client.get("/api/v1/dashboard/model-versions")
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(m["model_id"], m["model_version"], m["inspected"]) for m in body] == [
        ("mdl_tile", 4, 50),
        ("mdl_tile", 3, 100),
    ]
    assert set(body[0]) == {"model_id", "model_version", "first_hour", "last_hour", "inspected"}


def test_quality_filtered_by_model_version(plant: AuthHarness) -> None:
    plant.sign_in(plant.add_person("q.eng", [Role.QUALITY_ENGINEER]))
    params = {"group_by": "site", **_range(plant)}
    url = "/api/v1/dashboard/quality"
    one = plant.client.get(url, params=params | {"model_id": "mdl_tile", "model_version": "4"}).json()
    assert [(p["inspected"], p["passed"]) for p in one] == [(50, 49)]
    every = plant.client.get(url, params=params).json()
    assert [p["inspected"] for p in every] == [160]
    bad = plant.client.get(url, params=params | {"model_version": "0"})
    assert bad.status_code == 422


def test_model_versions_needs_inspection_results(plant: AuthHarness) -> None:
    plant.sign_in(plant.add_person("a.udit", [Role.AUDITOR]))
    assert plant.client.get("/api/v1/dashboard/model-versions").status_code == 403
