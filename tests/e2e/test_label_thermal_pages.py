"""The label-check and thermal pages as their people use them: a quality engineer reads each
label station's outcomes and opens the record of a part whose label was wrong; a maintenance
technician reads a motor's temperature against its learned band, its trend chart, its alarm
and its open maintenance recommendation. Results go in through the real ingest service from a
node of their own (the session's plant is shared: every check counts only this module's rows)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from lineguard.server.auth import Role
from lineguard.server.nodes import NodeIdentity
from tests.e2e.conftest import screenshot
from tests.e2e.plant import NODES, SITE, Plant, add_person
from tests.e2e.test_journeys import sign_in
from tests.support.stage_results import (
    ingest,
    label_part,
    thermal_alarm,
    thermal_reading,
    thermal_recommendation,
)

pytestmark = pytest.mark.browser

#: The label station's parts are frames of line 1's camera 1 (a new camera would add a row to the
#: defect page's camera breakdown that other modules count); the thermal camera sends no parts.
LABEL_NODE = NODES["edge-l1"]
THERMAL_NODE = NodeIdentity("edge-e2e-thermal", SITE, "line-1", frozenset({"cam-e2e-th"}), "s-e2e")
LABEL_STATION, THERMAL_STATION = "st-e2e-label", "st-e2e-motor"
CHECKS: list[list[tuple[str, str]]] = [
    [],
    [("mismatch", "lot")],
    [],
    [("mismatch", "lot"), ("mismatch", "date")],
    [("unreadable", "code")],
    [],
]


def _seed(plant: Plant) -> None:
    now = datetime.now(UTC)
    events, parts, results = [], [], []
    for i, reasons in enumerate(CHECKS):
        at = now - timedelta(minutes=50 - i)
        event, part, result = label_part(
            LABEL_NODE,
            camera_id="cam-1",
            station_id=LABEL_STATION,
            at=at,
            reasons=reasons,
            frame_id=70_000 + i,
        )
        events.append(event)
        parts.append(part)
        results.append(result)
    camera_id, station_id = "cam-e2e-th", THERMAL_STATION
    start = now - timedelta(hours=6)
    for i in range(36):
        heating = max(0, i - 24) * 0.6
        results.append(
            thermal_reading(
                THERMAL_NODE,
                at=start + timedelta(minutes=10 * i),
                assets={
                    "motor": (45.0 + heating, 41.0, 49.0, heating * 0.8),
                    "wall": (22.0, 20.0, 24.0, 0.0),
                },
                camera_id=camera_id,
                station_id=station_id,
            )
        )
    late = start + timedelta(minutes=10 * 34)
    results += [
        thermal_alarm(
            THERMAL_NODE,
            at=late,
            asset="motor",
            value=51.2,
            limit=49.0,
            camera_id=camera_id,
            station_id=station_id,
        ),
        thermal_recommendation(
            THERMAL_NODE,
            at=late + timedelta(minutes=3),
            asset="motor",
            trend=5.0,
            limit=4.0,
            camera_id=camera_id,
            station_id=station_id,
        ),
    ]
    ingest(plant.context, LABEL_NODE, events=events, parts=parts, stage_results=results[: len(CHECKS)])
    ingest(plant.context, THERMAL_NODE, stage_results=results[len(CHECKS) :])


@pytest.fixture(scope="module")
def seeded(plant: Plant) -> Plant:
    _seed(plant)
    return plant


def test_quality_engineer_reads_label_outcomes_and_opens_a_wrong_labels_record(
    page: Page, seeded: Plant
) -> None:
    add_person(seeded, "lara.labels", (Role.QUALITY_ENGINEER,))
    sign_in(page, seeded, "lara.labels")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Labels").click()
    expect(page).to_have_url(re.compile(r"/labels$"))
    card = page.locator(f'#stations .card[data-station="{LABEL_STATION}"]')
    expect(card).to_have_count(1)
    expect(card.locator('[data-outcome="read"]')).to_have_text("3")
    expect(card.locator('[data-outcome="mismatch"]')).to_have_text("2")
    expect(card.locator('[data-outcome="unreadable"]')).to_have_text("1")
    expect(card).to_contain_text("Fields that differed: lot (2), date (1)")
    expect(card).to_contain_text("50.0 %")
    page.get_by_label("Station", exact=True).select_option(f"line-1|{LABEL_STATION}")
    page.get_by_role("button", name="Show").click()
    rows = page.locator("#checks tbody tr")
    expect(rows).to_have_count(3)  # only checks that did not pass (the default)
    expect(rows.nth(0)).to_contain_text("Unreadable")
    expect(rows.nth(1)).to_contain_text("lot (mismatch), date (mismatch)")
    screenshot(page, "labels")
    rows.nth(1).get_by_role("link", name="Open record").click()
    expect(page).to_have_url(re.compile(r"/record\?event=evt"))
    expect(page.locator("#record-fields")).to_contain_text(LABEL_STATION)
    # The Thermal page is maintenance data: not on a quality engineer's menu, refused by the API.
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Thermal")).to_have_count(0)
    page.goto(seeded.url + "/thermal")
    expect(page.get_by_role("heading", name="Not available to your roles")).to_be_visible()


def test_maintenance_technician_reads_a_motor_against_its_band_and_its_recommendation(
    page: Page, seeded: Plant, watch: Any
) -> None:
    sign_in(page, seeded, "tom.maintenance")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Thermal").click()
    motor = page.locator('#assets .card[data-asset="motor"]', has_text="cam-e2e-th")
    expect(motor).to_have_count(1)
    expect(motor).to_contain_text("outside band")
    expect(motor).to_contain_text("Band 41.0 °C … 49.0 °C")
    expect(motor).to_contain_text("1 alarm, 1 open maintenance item")
    expect(page.locator('#assets .card[data-asset="wall"]', has_text="cam-e2e-th")).to_contain_text("in band")
    page.get_by_label("Asset", exact=True).select_option("line-1|cam-e2e-th|motor")
    page.get_by_role("button", name="Show").click()
    chart = page.locator("#thermal-chart")
    expect(chart).to_have_attribute(
        "data-buckets", re.compile(r"^(3[0-9]|4[0-9])$")
    )  # 8 h window: the last 6 h of readings
    expect(page.locator("#maintenance tbody tr")).to_have_count(1)
    expect(page.locator("#maintenance")).to_contain_text("Thermal inspection of motor")
    expect(page.locator("#alarms tbody tr")).to_have_count(2)
    expect(page.locator("#alarms")).to_contain_text("hot spot")
    assert any("/api/v1/thermal/series" in u and "asset=motor" in u for u in watch.requests)
    screenshot(page, "thermal")
