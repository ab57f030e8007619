"""Role journeys through the real dashboard in headless Chromium, against a real server
over HTTPS: what each role sees, what it cannot, and that the API refuses the same.

Screenshots of every page go to ``artifacts/screenshots/`` (kept by CI as artifacts).
"""

from __future__ import annotations

import re
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from lineguard.server.audit.models import AuditEntryRow
from lineguard.server.auth.catalog import Role
from tests.e2e.conftest import SIGN_IN_STEP_MS, open_sign_in, screenshot, wait_for_step
from tests.e2e.plant import Plant, add_person, raise_alert

pytestmark = pytest.mark.browser

NAV_ALL = [
    "Overview", "Defects", "Alerts", "Nodes", "SPC", "Labels", "Thermal", "Models", "Audit log",
    "Users & roles", "Retention", "Integrations", "Governance",
]  # fmt: skip


def sign_in(page: Page, plant: Plant, username: str) -> None:
    person = plant.people[username]
    open_sign_in(page, plant.url)
    page.get_by_label("User name", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(person.password)
    page.get_by_role("button", name="Sign in").click()
    if person.secret is not None:
        wait_for_step(page, "#code-form")
        page.get_by_label("Authentication code", exact=True).fill(plant.code(username))
        page.get_by_role("button", name="Verify").click()
    page.wait_for_url(
        lambda url: "/signin" not in url and not url.rstrip("/").endswith(str(plant.url)),
        timeout=SIGN_IN_STEP_MS,
    )


def nav_labels(page: Page) -> list[str]:
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link").first).to_be_visible()
    return [t.strip() for t in nav.get_by_role("link").all_inner_texts()]


def api(page: Page, method: str, path: str, body: Any = None) -> int:
    """Call the API from inside the page, as its scripts would (session cookie + CSRF)."""
    return int(
        page.evaluate(
            """async ([method, path, body]) => {
                const csrf = (await (await fetch('/api/v1/auth/csrf')).json()).csrf_token;
                const r = await fetch('/api/v1' + path, {method, headers: {'Content-Type': 'application/json',
                    'X-CSRF-Token': csrf}, body: body === null ? undefined : JSON.stringify(body)});
                return r.status;
            }""",
            [method, path, body],
        )
    )


def audit_names(plant: Plant, actor: str) -> list[str]:
    with plant.session() as session:
        rows = session.scalars(select(AuditEntryRow.name).where(AuditEntryRow.actor == actor)).all()
    return list(rows)


def test_sign_in_form_is_labelled_and_keyboard_ordered(page: Page, plant: Plant) -> None:
    open_sign_in(page, plant.url)
    username = page.get_by_label("User name", exact=True)
    expect(username).to_be_focused()
    order = []
    for _ in range(3):
        order.append(page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
        page.keyboard.press("Tab")
    assert order == ["username", "password", "Sign in"]
    # A wrong password is announced in an alert region, and the form stays usable.
    username.fill("quinn.quality")
    page.get_by_label("Password", exact=True).fill("not the password at all")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text(re.compile("password|credentials|sign", re.I))
    screenshot(page, "signin")


def test_quality_engineer_opens_an_alert_and_its_evidence(page: Page, plant: Plant) -> None:
    sign_in(page, plant, "quinn.quality")
    expect(page).to_have_url(re.compile(r"/overview$"))
    assert nav_labels(page) == [
        "Overview",
        "Defects",
        "Alerts",
        "Nodes",
        "SPC",
        "Labels",
        "Models",
        "Retention",
        "Ask",
    ]
    assert api(page, "GET", "/integrations") == 403  # no Integrations page: not integrations.read
    cards = page.locator("#line-cards .card")
    expect(cards).to_have_count(3)
    expect(cards.first).to_contain_text("yield")
    page.get_by_text("Last week").click()
    expect(page.locator("#line-cards .card").first).to_contain_text("parts inspected")
    screenshot(page, "overview")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Defects").click()
    expect(page.locator("#pareto-table tbody tr").first).to_contain_text("scratch")
    expect(page.locator("#breakdown tbody tr")).to_have_count(4)
    page.get_by_label("Line", exact=True).select_option("line-2")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#breakdown tbody tr")).to_have_count(1)
    screenshot(page, "defects")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Alerts").click()
    expect(page.locator("#live-state")).to_have_text("Live")
    expect(page.locator("#alert-feed li").first).to_be_visible()
    before = page.locator("#alert-feed li").count()
    live_id = raise_alert(plant, message_part="P-LIVE-1")  # pushed: no reload
    fresh = page.locator(f'#alert-feed li[data-alert-id="{live_id}"]')
    expect(fresh).to_contain_text("P-LIVE-1")
    assert page.locator("#alert-feed li").count() == before + 1
    screenshot(page, "alerts")

    fresh.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/record\?alert="))
    expect(page.locator("#record-fields")).to_contain_text("P-LIVE-1")
    panel = page.locator("#evidence-panel")
    expect(panel).to_be_visible()
    expect(page.locator("#evidence-note")).to_be_hidden()
    page.get_by_label("Purpose").select_option("customer complaint")
    page.get_by_role("button", name="Open evidence").click()
    # The real node edge-l1 uploads the redacted image over mTLS; the page polls until it arrives.
    image = page.locator("#evidence-image")
    expect(image).to_have_attribute("data-loaded", "true", timeout=60_000)
    assert page.evaluate("document.querySelector('#evidence-image').naturalWidth") > 0
    assert (image.get_attribute("src") or "").startswith("blob:")
    expect(page.locator("#evidence-defect-hidden")).to_contain_text(
        "Defect partly hidden by privacy redaction"
    )
    expect(page.locator("#evidence-region")).to_contain_text("x 40, y 20, 160 × 120 px")
    expect(panel).to_contain_text("recorded in the audit log")
    screenshot(page, "record")
    names = audit_names(plant, "user:quinn.quality")
    assert "access.evidence" in names and "access.evidence_view" in names

    # Model registry: v2 waits for approval; Quinn did not register it, so may approve it.
    page.goto(plant.url + "/models")
    expect(page.locator("#models tbody tr")).to_have_count(2)
    expect(page.locator("#releases tbody tr")).to_have_count(1)
    expect(page.get_by_role("button", name="Roll back line line-1")).to_be_visible()
    page.get_by_role("button", name="Approve tile-anomaly v2").click()
    expect(page.get_by_role("button", name="Deploy tile-anomaly v2")).to_be_visible()
    screenshot(page, "models")

    # Retention: the quality engineer reads the periods but cannot change them.
    page.goto(plant.url + "/retention")
    expect(page.get_by_label("Inspection results (days)")).not_to_be_editable()
    expect(page.get_by_role("button", name="Save")).to_be_hidden()
    screenshot(page, "retention-read-only")
    assert api(page, "PUT", "/retention/policy", {"inspection_events_days": 30}) == 403

    page.goto(plant.url + "/nodes")
    expect(page.locator("#nodes tbody tr")).to_have_count(3)
    expect(page.locator("#nodes")).to_contain_text("offline")
    screenshot(page, "nodes")
    # The quality engineer may not manage nodes: no revoke control, and the API refuses it.
    expect(page.get_by_role("button", name=re.compile("Revoke"))).to_have_count(0)
    assert api(page, "POST", "/nodes/edge-l1/revoke", {"reason": "test"}) == 403


def test_maintenance_technician_sees_alerts_but_no_evidence(page: Page, plant: Plant) -> None:
    sign_in(page, plant, "tom.maintenance")
    assert nav_labels(page) == ["Overview", "Defects", "Alerts", "Nodes", "SPC", "Labels", "Thermal", "Ask"]
    # The keyboard reaches the skip link first, then the menu in order.
    page.goto(plant.url + "/overview")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link").first).to_be_visible()
    focused = []
    for _ in range(6):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert focused == ["Skip to content", "LineGuard", "Overview", "Defects", "Alerts", "Nodes"]
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/nodes$"))
    page.goto(plant.url + "/alerts")
    expect(page.locator("#alert-feed li").first).to_be_visible()
    page.locator("#alert-feed li a").first.click()
    expect(page.locator("#record-fields")).to_contain_text("Verdict")
    expect(page.locator("#evidence-panel")).to_be_hidden()
    expect(page.locator("#evidence-note")).to_contain_text("only to roles that may see them")
    expect(page.get_by_role("button", name="Open evidence")).to_have_count(0)
    screenshot(page, "record-maintenance")
    assert (
        api(page, "POST", f"/dashboard/records/{plant.evidence_event_id}/evidence", {"purpose": "x"}) == 403
    )
    assert api(page, "GET", "/evidence-views/evv_0000") == 403
    assert "access.denied" in audit_names(plant, "user:tom.maintenance")
    page.goto(plant.url + "/nodes")
    expect(page.locator("#nodes tbody tr")).to_have_count(3)


def test_auditor_sees_only_the_audit_log(page: Page, plant: Plant) -> None:
    sign_in(page, plant, "anna.audit")
    expect(page).to_have_url(re.compile(r"/audit$"))
    assert nav_labels(page) == ["Audit log"]
    chain = page.locator("#chain-status")
    expect(chain).to_contain_text("Chain verified")
    assert chain.get_attribute("data-state") in {"ok", "warn"}  # warn: entries after the checkpoint
    expect(page.locator("#entries tbody tr").first).to_be_visible()
    page.get_by_label("Event name starts with").fill("auth.login_succeeded")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#entries tbody tr").first).to_contain_text("user:anna.audit")  # her own sign-in
    expect(page.locator("#entries tbody tr").first).not_to_contain_text("access.")
    page.get_by_label("Event name starts with").fill("")
    page.get_by_role("button", name="Apply").click()
    # The whole log again: her own reads of the log, which the filter hid, are back. Not a row
    # count: with machine events folded, the newest 100 entries made 19 rows once (83
    # review.state_changed entries of the other tests folded into one), and nth(20) never came.
    expect(page.locator("#entries tbody tr").filter(has_text="access.audit_read").first).to_be_visible()
    screenshot(page, "audit", full_page=False)  # the first screen; the log runs on below
    for path in ["/dashboard/quality", "/dashboard/alerts", "/dashboard/nodes", "/auth/users"]:
        assert api(page, "GET", path) == 403, path
    page.goto(plant.url + "/overview")
    expect(page.locator("h1")).to_have_text("Not available to your roles")
    expect(page.locator("#line-cards")).to_have_count(0)


def test_administrator_cannot_open_evidence(page: Page, plant: Plant) -> None:
    sign_in(page, plant, "ada.admin")
    assert nav_labels(page) == ["Nodes", "Models", "Users & roles", "Retention", "Integrations", "Governance"]
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Integrations").click()
    expect(page.locator("h1")).to_have_text("Integrations")
    expect(page.locator("#destinations")).to_contain_text("No CMMS destination is configured")
    expect(page.locator("#dead")).to_contain_text("No dead letter.")
    expect(page.locator("#egress")).to_contain_text("connection(s) refused since the server started")
    screenshot(page, "integrations")
    # Governance: the deployment self-check (the doctor's report) and the documents.
    page.goto(plant.url + "/governance")
    expect(page.locator("#doctor")).to_contain_text("Owners named")
    expect(page.locator("#doctor-summary")).to_contain_text("failed")
    expect(page.locator("#documents")).to_contain_text("Record of processing activities")
    page.goto(plant.url + "/users")
    expect(page.locator("#users tbody tr")).to_have_count(len(plant.people))
    expect(page.get_by_role("button", name="Create account")).to_be_visible()
    screenshot(page, "users")
    page.goto(plant.url + "/nodes")
    expect(page.get_by_role("button", name="Revoke node edge-l1")).to_be_visible()
    # Retention: the administrator may change periods (audited as config.changed).
    page.goto(plant.url + "/retention")
    field = page.get_by_label("Inspection results (days)")
    expect(field).to_be_editable()
    expect(page.locator("#holds")).to_contain_text("customer complaint C-1042")
    expect(page.locator("#sweeps tbody tr").first).to_contain_text("manual")
    field.fill("400")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#page-status")).to_have_text("Retention policy saved.")
    screenshot(page, "retention")
    assert "config.changed" in audit_names(plant, "user:ada.admin")
    page.goto(f"{plant.url}/record?alert={plant.alert_ids[0]}")
    expect(page.locator("h1")).to_have_text("Not available to your roles")
    expect(page.get_by_role("button", name="Open evidence")).to_have_count(0)
    assert (
        api(page, "POST", f"/dashboard/records/{plant.evidence_event_id}/evidence", {"purpose": "x"}) == 403
    )
    assert api(page, "GET", f"/dashboard/records/{plant.evidence_event_id}") == 403
    assert api(page, "GET", "/evidence-views/evv_0000") == 403


def test_first_sign_in_changes_the_one_time_password_and_enrolls_mfa(page: Page, plant: Plant) -> None:
    person = plant.people["nina.new"]
    open_sign_in(page, plant.url)
    page.get_by_label("User name", exact=True).fill("nina.new")
    page.get_by_label("Password", exact=True).fill(person.password)
    page.get_by_role("button", name="Sign in").click()
    wait_for_step(page, "#change-form")
    page.get_by_label("Current (one-time) password").fill(person.password)
    page.get_by_label("New password", exact=True).fill("a long new passphrase for nina")
    page.get_by_label("Repeat the new password").fill("a long new passphrase for nina")
    page.get_by_role("button", name="Change password").click()
    wait_for_step(page, "#enroll-form")
    secret = page.locator("#enroll-secret")
    expect(secret).not_to_be_empty()
    screenshot(page, "signin-enroll")
    page.get_by_label("Code shown by the app").fill(pyotp.TOTP(secret.inner_text().strip()).now())
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(re.compile(r"/overview$"), timeout=SIGN_IN_STEP_MS)


def test_pages_fit_a_tablet(browser: Any, plant: Plant) -> None:
    context = browser.new_context(viewport={"width": 768, "height": 1024}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        sign_in(page, plant, "tom.maintenance")
        for name, path in [("tablet-overview", "/overview"), ("tablet-nodes", "/nodes")]:
            page.goto(plant.url + path)
            page.wait_for_load_state("networkidle")
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a tablet"
            screenshot(page, name)
    finally:
        context.close()


def test_a_line_without_data_shows_empty_states(page: Page, plant: Plant) -> None:
    add_person(plant, "una.newline", (Role.QUALITY_ENGINEER,), lines=["line-9"])
    sign_in(page, plant, "una.newline")
    expect(page.locator("#line-cards .empty")).to_contain_text("No parts were inspected")
    screenshot(page, "overview-empty")
    page.goto(plant.url + "/defects")
    expect(page.locator("#pareto-table .empty")).to_contain_text("No defects")
    expect(page.locator("#breakdown .empty")).to_be_visible()
    page.goto(plant.url + "/alerts")
    expect(page.locator("#alert-feed")).to_contain_text("No alerts yet")
    # Other lines' alerts are not readable either, by id.
    assert api(page, "GET", f"/dashboard/alerts/{plant.alert_ids[0]}") == 403


def test_defect_analysis_filters_every_chart_by_model_version(page: Page, plant: Plant, watch: Any) -> None:
    # An account of its own: TOTP codes are single-use, and Quinn may have signed in this very step.
    add_person(plant, "mona.models", (Role.QUALITY_ENGINEER,))
    sign_in(page, plant, "mona.models")
    page.goto(plant.url + "/defects")
    expect(page.locator("#breakdown tbody tr")).to_have_count(4)
    model = page.get_by_label("Model version", exact=True)
    expect(model.locator("option")).to_have_count(3)  # all, v3 (lines 1 and 2, all week), v4 (line 3, a day)
    # Keyboard only: arrow keys choose the release, Tab reaches Apply, Enter submits.
    model.focus()
    for _ in range(3):
        if model.input_value() == "mdl_tile|4":
            break
        page.keyboard.press("ArrowDown")
    assert model.input_value() == "mdl_tile|4"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Apply"
    page.keyboard.press("Enter")
    rows = page.locator("#breakdown tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("line-3")
    filtered = [u for u in watch.requests if "model_version=4" in u]
    for route in ("/dashboard/pareto", "/dashboard/defects", "/dashboard/quality"):
        assert any(route in u and "model_id=mdl_tile" in u for u in filtered), route
    screenshot(page, "defects-model-version")
    model.select_option("")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#breakdown tbody tr")).to_have_count(4)
