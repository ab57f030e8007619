"""Aggregates never include data the caller may not read: a line-scoped partner who asks
the real dashboard API for plant-wide yield gets the yield of their lines only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from tests.unit.server.auth.harness import AuthHarness, running_harness

from lineguard.server.auth.catalog import Role
from lineguard.server.auth.matrix import MATRIX_SITE
from lineguard.server.ingest.models import ALL_PARTS, RollupHourly

#: inspected / passed per line in the seeded hour.
SEEDED = {"line-1": (100, 90), "line-2": (1000, 500), "line-3": (10, 10)}


@pytest.fixture
def plant(db_url: str, tmp_path: Path) -> Iterator[AuthHarness]:
    with running_harness(db_url, tmp_path / "server") as h:
        hour = h.clock.now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
        with h.context.sessions() as session:
            for line, (inspected, passed) in SEEDED.items():
                session.add(
                    RollupHourly(
                        site_id=MATRIX_SITE, line_id=line, camera_id="cam-1", defect_class=ALL_PARTS,
                        hour=hour, inspected=inspected, passed=passed, failed=inspected - passed, uncertain=0,
                    )
                )  # fmt: skip
            session.commit()
        yield h


def _plant_wide(h: AuthHarness) -> tuple[int, int] | int:
    start = (h.clock.now - timedelta(days=1)).isoformat()
    end = (h.clock.now + timedelta(hours=1)).isoformat()
    response = h.client.get(
        "/api/v1/dashboard/quality", params={"group_by": "site", "start": start, "end": end}
    )
    if response.status_code != 200:
        return response.status_code
    points = response.json()
    return sum(p["inspected"] for p in points), sum(p["passed"] for p in points)


def test_partner_gets_plant_wide_numbers_of_their_lines_only(plant: AuthHarness) -> None:
    partner = plant.add_person("v.vendor", [Role.EXTERNAL_PARTNER], lines=["line-1", "line-3"])
    plant.sign_in(partner)
    assert _plant_wide(plant) == (110, 100)
    read = plant.trail.of("access.inspection_read")[-1]
    assert read["records"] == 110


def test_site_wide_role_gets_the_whole_plant(plant: AuthHarness) -> None:
    qe = plant.add_person("q.eng", [Role.QUALITY_ENGINEER])
    plant.sign_in(qe)
    assert _plant_wide(plant) == (1110, 600)


def test_line_scoped_engineer_asking_for_another_line_gets_nothing_from_it(plant: AuthHarness) -> None:
    qe = plant.add_person("q.line2", [Role.QUALITY_ENGINEER], lines=["line-2"])
    plant.sign_in(qe)
    start = (plant.clock.now - timedelta(days=1)).isoformat()
    end = (plant.clock.now + timedelta(hours=1)).isoformat()
    params = {"line_id": "line-1", "start": start, "end": end}
    response = plant.client.get("/api/v1/dashboard/quality", params=params)
    assert response.status_code == 200
    assert response.json() == []
    assert _plant_wide(plant) == (1000, 500)


def test_roles_without_inspection_results_get_403_not_an_empty_answer(plant: AuthHarness) -> None:
    auditor = plant.add_person("a.udit", [Role.AUDITOR])
    plant.sign_in(auditor)
    assert _plant_wide(plant) == 403


def test_partner_loses_access_when_the_grant_ends(plant: AuthHarness) -> None:
    partner = plant.add_person("v.vendor", [Role.EXTERNAL_PARTNER], lines=["line-1"])
    plant.sign_in(partner)
    assert _plant_wide(plant) == (100, 90)
    plant.clock.advance(days=91)  # partner grants end within 90 days
    plant.sign_in(partner)
    assert _plant_wide(plant) == 403
