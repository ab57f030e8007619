"""Charts over the chosen window and the audit page's filters, in headless Chromium against
the seeded plant: the overview's axes span the last shift, day or week with empty buckets
as gaps; the audit log shows seconds, filters by time and by names to leave out, and folds
runs of machine entries so people's actions are visible."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, Playwright, expect

from lineguard.config.server import DashboardConfig
from lineguard.contracts.audit import IngestBatchAccepted
from lineguard.server.audit import record
from lineguard.server.auth.catalog import Role
from lineguard.server.pki import ca_paths
from tests.e2e.conftest import launch_chromium, screenshot
from tests.e2e.plant import NODES, Plant, add_person, make_event, running_plant, send
from tests.e2e.test_journeys import sign_in
from tests.unit.server.ingest.factory import part_of

pytestmark = pytest.mark.browser


def test_overview_charts_span_the_chosen_window(page: Page, plant: Plant) -> None:
    add_person(plant, "wanda.window", (Role.QUALITY_ENGINEER,))
    sign_in(page, plant, "wanda.window")
    page.goto(plant.url + "/overview")
    chart = page.locator("#yield-chart")
    # Eight hours and the hour the window starts in; the seeded lines report every hour.
    expect(chart).to_have_attribute("data-buckets", "9")
    page.get_by_text("Last day").click()
    expect(chart).to_have_attribute("data-buckets", "25")
    page.get_by_text("Last week").click()
    expect(chart).to_have_attribute("data-buckets", re.compile("^(7|8)$"))
    # Line 3's node went silent a day ago in the seed? Either way each point is a bucket with parts.
    points = int(chart.get_attribute("data-points") or 0)
    assert 0 < points <= 3 * 8
    screenshot(page, "overview-week-window")


def test_defect_trend_has_a_day_per_day_of_the_range(page: Page, plant: Plant) -> None:
    add_person(plant, "dora.days", (Role.QUALITY_ENGINEER,))
    sign_in(page, plant, "dora.days")
    page.goto(plant.url + "/defects")
    trend = page.locator("#trend-chart")
    expect(trend).to_have_attribute("data-buckets", re.compile("^(7|8)$"))


def test_audit_page_seconds_time_range_exclude_and_folded_machine_events(page: Page, plant: Plant) -> None:
    add_person(plant, "audrey.audit", (Role.AUDITOR,))
    # A burst of ingest batches from one node, as a running line writes them.
    with plant.session() as session:
        for i in range(30):
            record(
                session,
                IngestBatchAccepted(node_id="edge-l1", batch_id=f"burst{i}", events=6),
                actor="node:edge-l1",
            )
        session.commit()
    sign_in(page, plant, "audrey.audit")
    expect(page).to_have_url(re.compile(r"/audit$"))
    rows = page.locator("#entries tbody tr")
    expect(rows.first).to_be_visible()
    # The burst is one folded row; her own sign-in shows beside it.
    folded = page.locator("#entries tr.folded", has_text="ingest.batch_accepted")
    expect(folded.first).to_contain_text("machine entries folded")
    expect(page.locator("#entries")).to_contain_text("user:audrey.audit")
    assert rows.count() < 100
    folded.first.get_by_role("button", name=re.compile(r"^Show \d+")).click()
    expect(page.locator("#entries tbody tr", has_text="burst29")).to_have_count(1)
    # Times to the second.
    first_time = page.locator("#entries tbody tr:not(.folded) time").first.inner_text()
    assert re.search(r"\d{2}:\d{2}:\d{2}", first_time), first_time
    screenshot(page, "audit-folded", full_page=False)

    # Leave out ingest and reads: people's actions only.
    page.get_by_label("Leave out names starting with").fill("ingest., access.")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#entries tbody tr", has_text="ingest.")).to_have_count(0)
    expect(page.locator("#entries tbody tr", has_text="access.audit_read")).to_have_count(0)
    expect(page.locator("#entries")).to_contain_text("auth.login_succeeded")

    # A time range in the future holds nothing; one around now holds her sign-in.
    later = datetime.now(UTC) + timedelta(hours=2)
    page.get_by_label("From").fill(later.strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_label("Until").fill((later + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#entries")).to_contain_text("No audit entries match.")
    earlier = datetime.now(UTC) - timedelta(minutes=10)
    page.get_by_label("From").fill(earlier.strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#entries")).to_contain_text("user:audrey.audit")
    screenshot(page, "audit-filtered", full_page=False)


def test_overview_scores_the_line_against_its_ground_truth(playwright: Playwright, tmp_path: Path) -> None:
    """A plant of its own, whose config names a ground-truth file (as the demo's does)."""
    truth = {f"part-{i:06d}": ("scratch" if i % 5 == 0 else None) for i in range(40)}
    path = tmp_path / "ground-truth.json"
    path.write_text(json.dumps({"schema_version": 1, "source": "a golden set of 40 parts", "parts": truth}))
    sections = {"dashboard": DashboardConfig(ground_truth_file=path)}
    with running_plant(tmp_path / "server", seed=False, sections=sections) as plant:
        node = NODES["edge-l1"]
        now = datetime.now(UTC) - timedelta(minutes=30)
        events = []
        for i in range(40):
            # The AI misses one of the eight defective parts and fails one good part.
            fail = (i % 5 == 0 and i != 35) or i == 12
            e = make_event(node, "cam-1", now + timedelta(seconds=i), i)
            e |= {"part_id": f"part-{i:06d}", "verdict": "fail" if fail else "pass", "regions": []}
            e["anomaly_score"] = 0.9 if fail else 0.1
            events.append(e)
        send(plant, node, events, [], [part_of([e]) for e in events])
        add_person(plant, "tess.truth", (Role.QUALITY_ENGINEER,))
        browser = launch_chromium(playwright, ca_paths(plant.settings.data_dir).server_cert)
        try:
            page = browser.new_page(
                viewport={"width": 1366, "height": 768}, locale="en-GB", timezone_id="UTC"
            )
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            sign_in(page, plant, "tess.truth")
            page.goto(plant.url + "/overview")
            panel = page.locator("#truth-panel")
            expect(panel).to_be_visible()
            expect(panel.get_by_label("Part-level recall")).to_contain_text("87.5 %")
            expect(panel.get_by_label("Part-level recall")).to_contain_text("7 of 8 defective parts failed")
            expect(panel.get_by_label("False-reject rate")).to_contain_text("3.1 %")
            expect(panel.get_by_label("False-reject rate")).to_contain_text("1 of 32 good parts failed")
            expect(page.locator("#truth-source")).to_contain_text(
                "a golden set of 40 parts. 40 parts scored."
            )
            screenshot(page, "overview-truth", full_page=False)
            assert errors == []
        finally:
            browser.close()
