"""The SPC page as a quality engineer uses it: pick a gauged characteristic, read its X̄/R
charts, capability and the rules that fired; a line not granted is not offered."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from playwright.sync_api import Page, Route, expect

from lineguard.contracts.stages import StageResult
from lineguard.server.auth import Role
from lineguard.server.measurements import record_measurements
from tests.e2e.conftest import screenshot, wait_until_answered, wait_until_held
from tests.e2e.plant import SITE, Plant, add_person
from tests.e2e.test_journeys import sign_in

pytestmark = pytest.mark.browser


def _seed(plant: Plant, line: str, station: str) -> None:
    rng = np.random.default_rng(3)
    values = [40.0 + rng.normal(0, 0.01) for _ in range(100)]
    values += [40.03 + rng.normal(0, 0.01) for _ in range(60)]  # a shift inside the ±0.15 mm tolerance
    start = datetime.now(UTC) - timedelta(hours=2)
    results = [
        StageResult.model_validate(
            {
                "result_id": f"stg-spc-{line}-{i}",
                "idempotency_key": f"edge-spc:stg-spc-{line}-{i}",
                "node_id": "edge-spc",
                "site_id": SITE,
                "line_id": line,
                "station_id": station,
                "camera_id": "cam-1",
                "stage": "bracket-holes",
                "kind": "gauging",
                "frame_id": i,
                "captured_at": (start + timedelta(seconds=30 * i)).isoformat(),
                "verdict": "pass",
                "measurements": [
                    {
                        "characteristic": "hole_pitch",
                        "value": float(v),
                        "uncertainty": 0.004,
                        "unit": "mm",
                        "nominal": 40.0,
                        "lower_limit": 39.85,
                        "upper_limit": 40.15,
                    }
                ],
                "latency_ms": 5.0,
            }
        )
        for i, v in enumerate(values)
    ]
    with plant.context.sessions() as session:
        record_measurements(
            session, node_id="edge-spc", results=results, audit=plant.context.audit, now=datetime.now(UTC)
        )
        session.commit()


@pytest.fixture(scope="module")
def gauged(plant: Plant) -> Plant:
    _seed(plant, "line-1", "st-gauge")
    _seed(plant, "line-2", "st-gauge")
    return plant


def test_quality_engineer_reads_the_control_chart_of_a_drifting_characteristic(
    page: Page, gauged: Plant, watch: Any
) -> None:
    add_person(gauged, "sara.spc", (Role.QUALITY_ENGINEER,))
    sign_in(page, gauged, "sara.spc")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="SPC").click()
    choose = page.get_by_label("Characteristic", exact=True)
    # The session's plant is shared: other modules' parts may add characteristics of their own
    # stations; this station's are exactly the two lines seeded here.
    expect(choose.locator('option[value*="|st-gauge|"]')).to_have_count(2)
    choose.select_option("line-1|st-gauge|hole_pitch")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#xbar-chart")).to_have_attribute("data-buckets", "32")
    expect(page.locator("#range-chart")).to_have_attribute("data-buckets", "32")
    capability = page.locator("#capability")
    expect(capability).to_contain_text("Cpk")
    expect(capability).to_contain_text("39.8500 … 40.1500 mm")
    rules = page.locator("#rules tbody tr")
    expect(rules.first).to_contain_text("above")
    assert any("/api/v1/spc/chart" in u and "line_id=line-1" in u for u in watch.requests)
    screenshot(page, "spc-chart")


def test_a_person_granted_one_line_is_offered_only_its_characteristics(page: Page, gauged: Plant) -> None:
    add_person(gauged, "lena.line2", (Role.QUALITY_ENGINEER,), lines=["line-2"])
    sign_in(page, gauged, "lena.line2")
    page.goto(gauged.url + "/spc")
    options = page.get_by_label("Characteristic", exact=True).locator("option")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("line-2 / st-gauge / hole_pitch")
    expect(page.locator("#xbar-chart")).to_have_attribute("data-buckets", "32")


@pytest.fixture(scope="module")
def settable(gauged: Plant) -> Plant:
    """A station of its own (line-1), so changing its settings leaves the charts above unchanged."""
    _seed(gauged, "line-1", "st-gauge-set")
    return gauged


SETTABLE = "line-1|st-gauge-set|hole_pitch"


def test_a_quality_engineer_sees_the_settings_and_changes_the_rules_and_the_baseline(
    page: Page, settable: Plant, watch: Any
) -> None:
    add_person(settable, "sven.spc", (Role.QUALITY_ENGINEER,))
    sign_in(page, settable, "sven.spc")
    page.goto(settable.url + "/spc")
    page.get_by_label("Characteristic", exact=True).select_option(SETTABLE)
    page.get_by_role("button", name="Show").click()
    settings = page.locator("#spc-settings")
    # Everyone who reads the chart sees its settings: the default rules and an untouched baseline.
    expect(settings).to_contain_text("1: one subgroup mean beyond 3 sigma")
    expect(settings).to_contain_text("from the first value (never reset)")
    expect(settings).not_to_contain_text("3: four of five")
    form = page.get_by_role("form", name="Change the settings of this characteristic")
    expect(form).to_be_visible()
    expect(form.get_by_label("Rule 1: one subgroup mean beyond 3 sigma")).to_be_checked()
    expect(
        form.get_by_label("Rule 3: four of five subgroup means beyond 1 sigma on the same side")
    ).not_to_be_checked()
    # No rule at all is refused by the server, with its reason, and nothing changes.
    watch.expect_refusal(400, "/api/v1/spc/settings")
    for rule in ("Rule 1:", "Rule 2:"):
        form.get_by_label(re.compile(rule)).uncheck()
    form.get_by_label("Reason (kept in the audit trail)").fill("trying no rule")
    form.get_by_role("button", name="Save settings").click()
    expect(page.locator("#page-status")).to_contain_text("non-empty subset")
    expect(settings).to_contain_text("1: one subgroup mean beyond 3 sigma")
    # Rules 1 to 3 and a new baseline, with a reason: saved, and the page shows them.
    for rule in ("Rule 1:", "Rule 2:", "Rule 3:"):
        form.get_by_label(re.compile(rule)).check()
    form.get_by_label(re.compile("Start the baseline anew")).check()
    form.get_by_label("Reason (kept in the audit trail)").fill("fixture re-shimmed after the drift")
    form.get_by_role("button", name="Save settings").click()
    expect(page.locator("#page-status")).to_contain_text("Settings saved at")
    expect(settings).to_contain_text("3: four of five subgroup means beyond 1 sigma on the same side")
    expect(settings).to_contain_text("started anew at")
    expect(settings).not_to_contain_text("never reset")
    expect(form.get_by_label(re.compile("Rule 3:"))).to_be_checked()
    assert any("/api/v1/spc/chart" in u and "station_id=st-gauge-set" in u for u in watch.requests)
    screenshot(page, "spc-settings")


def test_a_maintenance_technician_sees_the_settings_but_gets_no_form_and_the_api_refuses_a_change(
    page: Page, settable: Plant, watch: Any
) -> None:
    add_person(settable, "tom.spc", (Role.MAINTENANCE_TECHNICIAN,), mfa=False)
    sign_in(page, settable, "tom.spc")
    page.goto(settable.url + "/spc")
    page.get_by_label("Characteristic", exact=True).select_option(SETTABLE)
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#spc-settings")).to_contain_text("Rules tested")
    expect(page.locator("#settings-form")).to_be_hidden()
    expect(page.get_by_role("button", name="Save settings")).to_have_count(0)
    # The form is only a convenience: the route itself refuses the role (inspection_results.write).
    refused = page.evaluate(
        """async () => {
          const { api } = await import("/static/js/api.js");
          const body = { line_id: "line-1", station_id: "st-gauge-set", characteristic: "hole_pitch",
                         rules: [1], reason: "not mine to change" };
          try { await api("/spc/settings", { method: "PUT", body }); return 0; }
          catch (error) { return error.status; }
        }"""
    )
    assert refused == 403


def test_the_chart_chosen_stays_when_the_start_up_chart_answers_late(page: Page, gauged: Plant) -> None:
    """The page charts its first characteristic at start-up; a person who chose another and
    pressed Show before that answer came must keep theirs (answers come back in any order:
    the server answers each on a thread of its own). The start-up's answer is held back by the
    browser here until the chosen chart is shown, then released."""
    add_person(gauged, "stan.spc", (Role.QUALITY_ENGINEER,))
    sign_in(page, gauged, "stan.spc")
    held: list[Route] = []
    page.route(
        re.compile(r"/api/v1/spc/chart\?"), lambda route: route.continue_() if held else held.append(route)
    )
    page.goto(gauged.url + "/spc")
    start_up = wait_until_held(page, held, "the start-up's chart")
    asked = parse_qs(urlparse(start_up.request.url).query)
    first = "|".join(asked[k][0] for k in ("line_id", "station_id", "characteristic"))
    chosen = next(c for c in ("line-2|st-gauge|hole_pitch", "line-1|st-gauge|hole_pitch") if c != first)
    page.get_by_label("Characteristic", exact=True).select_option(chosen)
    page.get_by_role("button", name="Show").click()
    caption = "Settings of " + chosen.replace("|", " / ")
    settings = page.locator("#spc-settings")
    expect(settings).to_contain_text(caption)
    start_up.continue_()
    wait_until_answered(page, start_up.request.url)
    assert caption in settings.inner_text()
    expect(page.get_by_label("Characteristic", exact=True)).to_have_value(chosen)
