"""The PPE page as a production supervisor reads it: per zone and hour, sightings and how many lacked
each item, small counts shown as suppressed; a quality engineer gets neither the menu entry nor the data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from lineguard.contracts.events import IngestBatch
from lineguard.server.auth import Role
from lineguard.server.ingest import service as ingest
from lineguard.server.nodes import NodeIdentity
from tests.e2e.conftest import screenshot
from tests.e2e.plant import SITE, Plant, add_person
from tests.e2e.test_journeys import nav_labels, sign_in

pytestmark = pytest.mark.browser


def _row(key: str, hour: datetime, seen: int | None, helmet: int | None, vest: int | None) -> dict[str, Any]:
    return {
        "counts_id": key,
        "idempotency_key": f"edge-ppe:{key}",
        "node_id": "edge-ppe",
        "site_id": SITE,
        "line_id": "line-1",
        "station_id": "walkway",
        "camera_id": "cam-walk",
        "zone": "aisle",
        "hour_start": hour.isoformat(),
        "sampled_frames": 720,
        "min_count": 5,
        "people_seen": seen,
        "items": [{"item": "helmet", "lacking": helmet}, {"item": "hi_vis_vest", "lacking": vest}],
        "classifier": "ppe-logreg-v1:test",
    }


@pytest.fixture(scope="module")
def counted(plant: Plant) -> Plant:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    rows = [
        _row("h1", now - timedelta(hours=1), 40, 10, 0),
        _row("h2", now - timedelta(hours=2), None, None, None),
    ]
    node = NodeIdentity("edge-ppe", SITE, "line-1", frozenset({"cam-walk"}), "serial-ppe")
    batch = IngestBatch.model_validate(
        {"node_id": "edge-ppe", "sent_at": now.isoformat(), "ppe_counts": rows}
    )
    with plant.context.sessions() as session:
        ingest.ingest_batch(
            session, node=node, batch=batch, sealer=plant.context.sealer, audit=plant.context.audit
        )
    return plant


def test_a_production_supervisor_reads_ppe_counts_with_small_hours_suppressed(
    page: Page, counted: Plant, watch: Any
) -> None:
    add_person(counted, "pat.ppe", (Role.PRODUCTION_SUPERVISOR,))
    sign_in(page, counted, "pat.ppe")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="PPE").click()
    rows = page.locator("#ppe-hours tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("aisle")
    expect(rows.nth(0)).to_contain_text("10 (25.0 %)")  # 10 of 40 sightings without a helmet
    expect(rows.nth(1)).to_contain_text("suppressed")
    expect(page.locator("#ppe-note")).to_contain_text("sightings")
    assert any("/api/v1/ppe/counts" in u for u in watch.requests)
    screenshot(page, "ppe-counts")


def test_a_quality_engineer_has_no_ppe_page(page: Page, counted: Plant) -> None:
    add_person(counted, "quinn.ppe", (Role.QUALITY_ENGINEER,))
    sign_in(page, counted, "quinn.ppe")
    assert "PPE" not in nav_labels(page)
    page.goto(counted.url + "/ppe")
    expect(page.get_by_role("heading", name="Not available to your roles")).to_be_visible()
