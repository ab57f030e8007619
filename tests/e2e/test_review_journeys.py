"""Review journeys through the real dashboard in headless Chromium, against a real server
over HTTPS: a quality engineer acknowledges from the alerts list, confirms and overrules on
the record page (the workstation: regions drawn over the evidence, zoom, the part's other
frames); a maintenance technician acknowledges and escalates but may not overrule; a
production supervisor finds what was escalated to them.

Screenshots go to ``artifacts/screenshots/`` like the other journeys'.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Page, Route, expect
from sqlalchemy import select

from lineguard.server.audit.models import AuditEntryRow
from lineguard.server.auth.catalog import Role
from tests.e2e.conftest import Watch, screenshot, wait_until_answered, wait_until_held
from tests.e2e.plant import Plant, add_person, raise_part_alert
from tests.e2e.test_journeys import api, sign_in

pytestmark = pytest.mark.browser


def audit_names(plant: Plant, actor: str) -> list[str]:
    with plant.session() as session:
        return list(session.scalars(select(AuditEntryRow.name).where(AuditEntryRow.actor == actor)))


def test_alerts_list_pages_filters_groups_and_acknowledges(page: Page, plant: Plant) -> None:
    add_person(plant, "rhea.review", (Role.QUALITY_ENGINEER,))
    first, _ = raise_part_alert(plant, part="P-LIST-1")
    second, _ = raise_part_alert(plant, part="P-LIST-2")
    sign_in(page, plant, "rhea.review")
    page.goto(plant.url + "/alerts")
    expect(page.locator("#live-state")).to_have_text("Live")
    rows = page.locator("#alert-feed li")
    # Newest first on load, and the stream's replay of the last minutes adds nothing on top.
    expect(rows.first).to_have_attribute("data-alert-id", second)
    expect(rows.nth(1)).to_have_attribute("data-alert-id", first)
    times = list(page.locator("#alert-feed li time").evaluate_all("ns => ns.map(n => n.dateTime)"))
    assert times == sorted(times, reverse=True)
    page.wait_for_timeout(1500)  # a few stream polls
    assert rows.first.get_attribute("data-alert-id") == second
    assert len(set(ids(page))) == rows.count()

    # Acknowledge from the list: the row's state changes, the audit log names her.
    row = page.locator(f'#alert-feed li[data-alert-id="{first}"]')
    expect(row).to_contain_text("New")
    row.get_by_role("button", name=re.compile("^Acknowledge")).click()
    expect(row).to_have_attribute("data-state", "acknowledged")
    expect(row.get_by_role("button")).to_have_count(0)
    assert "review.state_changed" in audit_names(plant, "user:rhea.review")

    # Filters and grouping live in the URL: a reload shows the same list.
    page.get_by_label("Review state").select_option("new")
    expect(page).to_have_url(re.compile(r"state=new"))
    expect(page.locator(f'#alert-feed li[data-alert-id="{first}"]')).to_have_count(0)
    expect(page.locator(f'#alert-feed li[data-alert-id="{second}"]')).to_have_count(1)
    page.get_by_label("Group by").select_option("part")
    expect(page.locator(".feed-group h3").first).to_contain_text("Part P-LIST-2")
    page.reload()
    expect(page.get_by_label("Review state")).to_have_value("new")
    expect(page.get_by_label("Group by")).to_have_value("part")
    expect(page.locator(".feed-group").first).to_be_visible()
    expect(page.locator("#live-state")).to_have_text("Live")
    page.wait_for_timeout(1500)  # the stream replays the acknowledged alert: it stays out
    expect(page.locator(f'#alert-feed li[data-alert-id="{first}"]')).to_have_count(0)
    # A new alert is pushed into its group, with its part id and review state from the server.
    pushed, _ = raise_part_alert(plant, part="P-LIST-3")
    expect(page.locator(".feed-group h3").first).to_contain_text("Part P-LIST-3")
    marked_new = re.compile(r"\bnew\b")
    expect(page.locator(f'#alert-feed li[data-alert-id="{pushed}"]')).to_have_class(marked_new)
    expect(page.locator(f'#alert-feed li[data-alert-id="{second}"]')).not_to_have_class(marked_new)
    assert parse_qs(urlparse(page.url).query) == {"state": ["new"], "group": ["part"]}
    screenshot(page, "alerts-grouped")
    # Paging: ten a page; the older page starts after the last alert shown, no overlap.
    for k in range(12):
        raise_part_alert(plant, part=f"P-PAGE-{k}")
    page.goto(plant.url + "/alerts")
    expect(rows.first).to_have_attribute("data-alert-id", re.compile("."))
    total = rows.count()
    assert total > 10
    page.get_by_label("Per page").select_option("10")
    expect(rows).to_have_count(10)
    shown = ids(page)
    page.get_by_role("button", name="Older alerts").click()
    expect(page).to_have_url(re.compile(r"before="))
    expect(rows.first).not_to_have_attribute("data-alert-id", shown[0])
    older = ids(page)
    assert not set(shown) & set(older) and len(older) == min(10, total - 10)
    page.go_back()
    expect(rows.first).to_have_attribute("data-alert-id", shown[0])
    page.get_by_label("Severity").select_option("critical")
    # The list shown before is critical alerts too (the newest ten): wait for the filtered one.
    expect(page.locator("#alert-feed")).not_to_have_attribute("aria-busy", "true")
    expect(rows.first).to_be_visible()
    severities = rows.evaluate_all("ns => ns.map(n => n.dataset.severity)")
    assert set(severities) == {"critical"}


def test_a_filter_chosen_while_the_list_loads_is_not_undone_by_the_late_list(
    page: Page, plant: Plant
) -> None:
    """The start-up's list, answered late, must not replace the list the person filtered
    meanwhile (answers come back in any order). The browser holds the start-up's list back
    until the filtered one is shown; the unfiltered one holds a critical alert."""
    add_person(plant, "fiona.filter", (Role.QUALITY_ENGINEER,))
    raise_part_alert(plant, part="P-LATE-1")  # critical, the newest
    sign_in(page, plant, "fiona.filter")
    held: list[Route] = []
    page.route(
        re.compile(r"/api/v1/dashboard/alerts/page\?"),
        lambda route: route.continue_() if held else held.append(route),
    )
    page.goto(plant.url + "/alerts")
    start_up = wait_until_held(page, held, "the list of alerts")
    page.get_by_label("Severity").select_option("warning")
    feed = page.locator("#alert-feed")
    expect(feed).not_to_have_attribute("aria-busy", "true")
    rows = page.locator("#alert-feed li[data-severity]")
    expect(rows.first).to_have_attribute("data-severity", "warning")
    start_up.continue_()
    wait_until_answered(page, start_up.request.url)
    assert set(rows.evaluate_all("ns => ns.map(n => n.dataset.severity)")) == {"warning"}
    expect(page.get_by_label("Severity")).to_have_value("warning")


def test_open_evidence_takes_no_click_before_the_record_has_come(page: Page, plant: Plant) -> None:
    """The evidence panel shows as soon as the person's roles are known; its button must wait
    for the record: a click before it came submitted the form as a plain GET, and the page
    reloaded without the alert. The browser holds the alert's record back here."""
    add_person(plant, "otto.early", (Role.QUALITY_ENGINEER,))
    alert_id, _ = raise_part_alert(plant, part="P-EARLY-1")
    sign_in(page, plant, "otto.early")
    held: list[Route] = []
    page.route(f"**/api/v1/dashboard/alerts/{alert_id}", lambda route: held.append(route))
    page.goto(f"{plant.url}/record?alert={alert_id}")
    detail = wait_until_held(page, held, "the alert and its record")
    button = page.get_by_role("button", name="Open evidence")
    expect(button).to_be_visible()
    expect(button).to_be_disabled()
    detail.continue_()
    expect(button).to_be_enabled()
    expect(page.locator("#record-fields")).to_contain_text("P-EARLY-1")
    assert page.url.endswith(f"/record?alert={alert_id}")


def ids(page: Page) -> list[str]:
    return list(page.locator("#alert-feed li").evaluate_all("ns => ns.map(n => n.dataset.alertId)"))


def test_quality_engineer_confirms_and_overrules_on_the_workstation(
    page: Page, plant: Plant, watch: Watch
) -> None:
    add_person(plant, "quill.station", (Role.QUALITY_ENGINEER,))
    confirm_id, frames = raise_part_alert(plant, part="P-CONFIRM-1", gauged=True, expected_frames=5)
    overrule_id, _ = raise_part_alert(plant, part="P-OVERRULE-1")
    watch.expect_refusal(400, f"/api/v1/reviews/alert/{overrule_id}/decide")
    sign_in(page, plant, "quill.station")

    page.goto(f"{plant.url}/record?alert={confirm_id}")
    panel = page.locator("#review-panel")
    expect(panel).to_have_attribute("data-state", "new")
    # The part, its four frames, the decisive one marked, links to the others.
    expect(page.locator("#part-fields")).to_contain_text("P-CONFIRM-1")
    # Judged on 4 frames where its camera expects 5 (frames dropped under load): the page says so.
    expect(page.locator("#part-views-short")).to_contain_text("views short: 4 of 5 expected")
    expect(page.locator("#part-frames tbody tr")).to_have_count(4)
    expect(page.locator('#part-frames tr[aria-current="true"]')).to_contain_text("decided the part")
    expect(page.locator("#part-frames a")).to_have_count(3)
    # Its gauging stage: the reason and the measurement with uncertainty and tolerance.
    expect(page.locator("#part-stages-block")).to_be_visible()
    stage = page.locator('#part-stages .stage-result[data-kind="gauging"]')
    expect(stage).to_contain_text("out_of_tolerance · hole_a")
    # The frames its lengths were averaged over, not only the decisive one.
    expect(stage.locator(".stage-frames")).to_have_text(
        re.compile(
            r"Rests on frames \d+, \d+, \d+ \(lengths averaged, most centred first\); "
            r"the part's decisive frame is \d+\."
        )
    )
    expect(stage.locator("tbody tr")).to_have_count(1)
    expect(stage.locator("tbody tr")).to_contain_text("8.31 ± 0.012 mm")
    expect(stage.locator("tbody tr")).to_contain_text("8 (7.9 – 8.1)")
    expect(page.locator("#regions tbody tr")).to_have_count(2)
    # The evidence, with the two regions drawn over it, zoomable.
    page.get_by_role("button", name="Open evidence").click()
    expect(page.locator("#evidence-image")).to_have_attribute("data-loaded", "true", timeout=60_000)
    viewer = page.locator("#evidence-viewer")
    expect(viewer).to_have_attribute("data-regions", "2")
    expect(page.locator(".region-box")).to_have_count(2)
    expect(page.locator(".region-box").first).to_contain_text("scratch 0.91")
    # The scratch box (120, 64) in the crop at (40, 20) of a 160 px wide image: x = 80.
    assert page.locator(".region-box rect").first.get_attribute("x") == "80"
    shot = screenshot(page, "record-overlays")
    page.get_by_role("button", name="Zoom in").click()
    page.get_by_role("button", name="Zoom in").click()
    expect(viewer).to_have_attribute("data-zoom", "2.25")
    box = viewer.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 - 60, box["y"] + box["height"] / 2 - 30)
    page.mouse.up()
    transform = page.locator("#evidence-viewer .stage").evaluate("n => n.style.transform")
    assert "scale(2.25)" in transform and "translate(0px, 0px)" not in transform
    screenshot(page, "record-overlays-zoomed")
    page.get_by_label("Heat map").uncheck()
    expect(page.locator("#evidence-viewer canvas.heat")).to_be_hidden()
    page.get_by_label("Region boxes").uncheck()
    expect(page.locator("#evidence-viewer svg.boxes")).to_be_hidden()
    page.get_by_role("button", name="Reset zoom").click()
    expect(viewer).to_have_attribute("data-zoom", "1.00")
    screenshot(page, "record-overlays-off")
    assert shot.is_file()

    page.get_by_role("button", name="Confirm defect").click()
    expect(panel).to_have_attribute("data-state", "resolved")
    expect(page.locator("#review-outcome")).to_contain_text("person: fail (scratch), confirmed")
    expect(page.locator("#review-timeline li").last).to_contain_text("confirm")
    expect(page.get_by_role("button", name="Overrule…")).to_be_hidden()

    # Another frame of the part opens as its own record; evidence stays one-time-view.
    page.locator("#part-frames a").first.click()
    expect(page).to_have_url(re.compile(rf"/record\?event={frames[0]}"))
    expect(page.locator("#part-frames tr[aria-current='true']")).to_contain_text("this one")

    page.goto(f"{plant.url}/record?alert={overrule_id}")
    expect(panel).to_have_attribute("data-state", "new")
    page.get_by_role("button", name="Overrule…").click()
    # Another class without naming it: the server's refusal is shown, nothing is changed.
    page.get_by_label("The AI was wrong because").select_option("other_class")
    page.get_by_label("Reason (kept in the audit log)").first.fill("looks like a dent")
    page.get_by_role("button", name="Overrule", exact=True).click()
    expect(page.locator("#review-error")).to_contain_text("other_class needs a defect_class")
    expect(panel).to_have_attribute("data-state", "new")
    page.get_by_label("The AI was wrong because").select_option("false_call")
    page.get_by_label("Reason (kept in the audit log)").first.fill("dust on the lens, part is good")
    page.get_by_role("button", name="Overrule", exact=True).click()
    expect(panel).to_have_attribute("data-state", "resolved")
    expect(page.locator("#review-outcome")).to_contain_text("AI: fail (scratch) · person: pass, false call")
    expect(page.locator("#review-timeline")).to_contain_text("dust on the lens")
    screenshot(page, "record-overruled")
    assert audit_names(plant, "user:quill.station").count("ai.decision") == 2


def test_technician_acknowledges_and_escalates_and_the_supervisor_sees_it(
    page: Page, plant: Plant, watch: Watch
) -> None:
    add_person(plant, "theo.tech", (Role.MAINTENANCE_TECHNICIAN,), mfa=False)
    add_person(plant, "suki.super", (Role.PRODUCTION_SUPERVISOR,))
    acked, _ = raise_part_alert(plant, part="P-TECH-1")
    escalated, _ = raise_part_alert(plant, part="P-TECH-2")
    watch.expect_refusal(409, f"/api/v1/reviews/alert/{escalated}/acknowledge")
    sign_in(page, plant, "theo.tech")
    page.goto(f"{plant.url}/record?alert={acked}")
    panel = page.locator("#review-panel")
    expect(panel).to_have_attribute("data-state", "new")
    # No confirm or overrule for a technician: the buttons say why, and the API refuses.
    expect(page.get_by_role("button", name="Confirm defect")).to_be_disabled()
    expect(page.get_by_role("button", name="Overrule…")).to_be_disabled()
    expect(page.locator("#review-rights")).to_contain_text(
        "needs a quality engineer or a production supervisor"
    )
    page.get_by_role("button", name="Acknowledge").click()
    expect(panel).to_have_attribute("data-state", "acknowledged")
    expect(page.locator("#review-state")).to_contain_text("user:theo.tech")
    screenshot(page, "record-technician")
    body = {"version": 2, "decision": "overrule", "label": "false_call", "reason": "x"}
    assert api(page, "POST", f"/reviews/alert/{acked}/decide", body) == 403
    assert "access.denied" in audit_names(plant, "user:theo.tech")

    page.goto(f"{plant.url}/record?alert={escalated}")
    expect(panel).to_have_attribute("data-state", "new")
    page.get_by_role("button", name="Escalate…").click()
    page.get_by_label("Escalate to").select_option("production_supervisor")
    page.get_by_label("Reason (kept in the audit log)").last.fill("third scratch this shift on cam-1")
    page.get_by_role("button", name="Escalate", exact=True).click()
    expect(panel).to_have_attribute("data-state", "escalated")
    expect(page.locator("#review-state")).to_contain_text("to production supervisor")

    # The supervisor, in a browser of their own, filters the list to escalations.
    assert page.context.browser is not None
    context = page.context.browser.new_context(
        viewport={"width": 1366, "height": 768}, locale="en-GB", timezone_id="UTC"
    )
    other = context.new_page()
    try:
        sign_in(other, plant, "suki.super")
        other.goto(plant.url + "/alerts?state=escalated")
        row = other.locator(f'#alert-feed li[data-alert-id="{escalated}"]')
        expect(row).to_contain_text("Escalated")
        expect(row).to_contain_text("to production supervisor")
        # Only escalated alerts are listed (alerts other modules left unacknowledged past the
        # escalation time may be escalated too: the session's plant is shared).
        expect(other.locator("#alert-feed li").filter(has_not_text="Escalated")).to_have_count(0)
        screenshot(other, "alerts-escalated-supervisor")
        row.get_by_role("link").click()
        expect(other.locator("#review-timeline")).to_contain_text("third scratch this shift")
        expect(other.get_by_role("button", name="Confirm defect")).to_be_enabled()
        # The technician's page is stale now: acknowledging there is a conflict, shown as such.
        other.get_by_role("button", name="Confirm defect").click()
        expect(other.locator("#review-panel")).to_have_attribute("data-state", "resolved")
    finally:
        context.close()
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("#review-error")).to_contain_text("someone else changed this finding first")
