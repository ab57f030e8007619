"""The real `lineguard demo` in headless Chromium: every role signs in the way a new user
does (one-time password changed, authenticator enrolled where the role requires it; the
registrar and approver of the demo model already did so and sign in with password and code) and
every page it may open shows the demo's own data; screenshots go to
``artifacts/screenshots/demo-*.png``.

One demo runs for the whole module: a third start of the one tests/integration/test_demo.py
ran (and stopped) before, its state reused, or, when that test did not run or failed, a fresh
one seeded with the session's trained demo model (tests/support/demo_run.py). Before any page
is opened the fixture waits, with a generous deadline, until the demo has produced what the
pages show: inspection events, a defect alert whose evidence image the node holds, and a node
heartbeat. Pages then wait for their data with Playwright's own expectations, never a sleep.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

from lineguard.server.pki import ca_paths
from tests.e2e.conftest import ARTIFACTS, SIGN_IN_STEP_MS, Watch, launch_chromium, open_sign_in, wait_for_step
from tests.support.demo_run import DEMO_TEST_ENV, SharedDemo
from tests.support.totp_codes import unused_code

# The module starts a whole demo (run alone: a first run, which first in a fresh session trains its
# model); its last test waits for the motor's first reading after its time-compressed learning
# period (one minute, DEMO_TEST_ENV; over already when the demo is the integration test's). Each
# test's limit is its call's (func_only): the module's demo start is bounded by its own deadlines
# below, and the session's demo training by its own limit (tests/support/demo_model.py).
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900, func_only=True)]

START_TIMEOUT_S = 600.0
DATA_TIMEOUT_S = 360.0  # the motor learns its bands for a minute (DEMO_TEST_ENV) before its first reading
UI_TIMEOUT_MS = 30_000
NEW_PASSWORD = "a long demo passphrase for the page tests"


@dataclass
class Demo:
    url: str
    root: Path
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict)
    #: Authenticator secrets of the people the demo set up already (its four-eyes release).
    totp: dict[str, str] = field(default_factory=dict)
    alert_id: str = ""

    def wait_for(self, text: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = next((line for line in self.lines if text in line), None)
            if found is not None:
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        pytest.fail(f"the demo never printed {text!r}; output:\n" + "\n".join(self.lines))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _query(db: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError:  # tables not created yet
            return []


def _alert_with_evidence(root: Path) -> str | None:
    """A defect alert whose record's evidence image the node already stored, if any."""
    held = {
        str(r[0]) for r in _query(root / "edge" / "evidence" / "index.db", "SELECT evidence_id FROM evidence")
    }
    rows = _query(
        root / "server" / "lineguard.db",
        "SELECT a.alert_id, e.evidence_ref FROM alerts a JOIN inspection_events e ON e.event_id = a.event_id "
        # The line's camera (cam-1): the journey opens a line part's redacted evidence image. The
        # stations' alerts (cam-gauge, cam-label) are left out here.
        "WHERE a.kind = 'defect' AND a.camera_id = 'cam-1' AND e.evidence_ref IS NOT NULL "
        "ORDER BY a.raised_at DESC",
    )
    return next((str(alert) for alert, ref in rows if ref in held), None)


def _has_heartbeat(root: Path) -> bool:
    return bool(_query(root / "server" / "lineguard.db", "SELECT node_id FROM node_health"))


def _has_thermal_reading(root: Path) -> bool:
    """The motor's first reading (after its bands are learned: a minute, DEMO_TEST_ENV)."""
    sql = "SELECT 1 FROM stage_results WHERE kind = 'thermal' AND verdict = 'pass' LIMIT 1"
    return bool(_query(root / "server" / "lineguard.db", sql))


@pytest.fixture(scope="module")
def demo(shared_demo: SharedDemo) -> Iterator[Demo]:
    root = shared_demo.data_dir()  # the integration test's demo, else a fresh one (see above)
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lineguard.cli",
            "demo",
            "--data-dir",
            str(root),
            "--port",
            str(port),
            "--no-browser",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **DEMO_TEST_ENV},  # as the integration test's runs on this data directory
    )
    demo = Demo(url=f"https://127.0.0.1:{port}", root=root, process=process)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            demo.lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        admin = demo.wait_for("Sign in as:", START_TIMEOUT_S)
        demo.passwords["demo.admin"] = admin.split("demo.admin / ", 1)[1].split()[0]
        for line in (root / "accounts.txt").read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                username, _role, password, *secret = line.split()
                demo.passwords[username] = password
                if secret:
                    demo.totp[username] = secret[0].removeprefix("totp:")
        deadline = time.monotonic() + DATA_TIMEOUT_S
        while time.monotonic() < deadline and not (demo.alert_id and _has_heartbeat(root)):
            demo.alert_id = _alert_with_evidence(root) or ""
            time.sleep(0.5)
        assert demo.alert_id, f"no defect alert with stored evidence within {DATA_TIMEOUT_S:.0f} s"
        yield demo
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        reader.join(timeout=5)
    assert code == 0, "\n".join(demo.lines)


@pytest.fixture(scope="module")
def demo_browser(playwright: Playwright, demo: Demo) -> Iterator[Browser]:
    browser = launch_chromium(playwright, ca_paths(demo.root / "server").server_cert)
    yield browser
    browser.close()


@pytest.fixture
def page(demo_browser: Browser, demo: Demo) -> Iterator[Page]:
    watch = Watch(demo.url)
    context = demo_browser.new_context(
        viewport={"width": 1366, "height": 768}, locale="en-GB", timezone_id="UTC"
    )
    page = context.new_page()
    page.on("request", lambda r: watch.requests.append(r.url))
    page.on("console", lambda m: watch.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: watch.errors.append(str(e)))
    page.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=UI_TIMEOUT_MS)  # as the page's own waits (see tests/e2e/conftest.py)
    yield page
    context.close()
    assert watch.foreign() == [], "the dashboard must not reach outside the plant server"
    assert [e for e in watch.errors if not e.startswith("Failed to load resource")] == []


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"demo-{name}.png"), full_page=True)


def fresh_code(demo: Demo, username: str) -> str:
    """The authenticator's code of a step after the last one the server accepted.

    The demo's setup has just typed this person's next-step code for its four-eyes
    release; codes are single-use (``tests/support/totp_codes.py``).
    """
    rows = _query(
        demo.root / "server" / "lineguard.db",
        "SELECT totp_last_step FROM auth_users WHERE username = ?",
        (username,),
    )
    assert rows, f"{username} is not in the demo's database"
    last = rows[0][0]
    assert last is None or isinstance(last, int)
    return unused_code(demo.totp[username], last)


def first_sign_in(page: Page, demo: Demo, username: str) -> None:
    """Sign in with the one-time password, choose a new one, enroll TOTP when asked.

    The demo's registrar and approver already have their own password and authenticator
    (they registered and approved its model): they sign in with password and code.
    """
    open_sign_in(page, demo.url)
    page.get_by_label("User name", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(demo.passwords[username])
    page.get_by_role("button", name="Sign in").click()
    if username in demo.totp:
        wait_for_step(page, "#code-form")
        page.get_by_label("Authentication code").fill(fresh_code(demo, username))
        page.get_by_role("button", name="Verify").click()
        page.wait_for_url(lambda url: "/signin" not in url and urlsplit(url).path not in ("", "/"))
        expect(page.get_by_role("navigation", name="Main")).to_be_visible()
        return
    wait_for_step(page, "#change-form")
    page.get_by_label("Current (one-time) password").fill(demo.passwords[username])
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    # Then either the authenticator enrollment (roles that require MFA) or the first page.
    enroll = page.locator("#enroll-form")
    expect(enroll.or_(page.get_by_role("navigation", name="Main"))).to_be_visible(timeout=SIGN_IN_STEP_MS)
    if "/signin" in page.url and enroll.is_visible():
        secret = page.locator("#enroll-secret")
        expect(secret).not_to_be_empty()
        page.get_by_label("Code shown by the app").fill(pyotp.TOTP(secret.inner_text().strip()).now())
        page.get_by_role("button", name="Confirm").click()
    # The site root forwards to the role's first page: wait for that page, not the root.
    page.wait_for_url(lambda url: "/signin" not in url and urlsplit(url).path not in ("", "/"))
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def nav(page: Page) -> list[str]:
    links = page.get_by_role("navigation", name="Main").get_by_role("link")
    expect(links.first).to_be_visible()
    return [t.strip() for t in links.all_inner_texts()]


def check_overview(page: Page, demo: Demo, who: str) -> None:
    page.goto(f"{demo.url}/overview")
    expect(page.locator("#line-cards .card").first).to_contain_text("parts inspected")
    shot(page, f"{who}-overview")


def check_defects(page: Page, demo: Demo, who: str) -> None:
    page.goto(f"{demo.url}/defects")
    # The line's camera and the stations' (worst defect rate first, so in no fixed order).
    for camera_id in ("cam-1", "cam-gauge", "cam-label"):
        expect(page.locator("#breakdown tbody tr", has_text=camera_id)).to_have_count(1)
    expect(page.locator("#pareto-table tbody tr").first).to_be_visible()
    expect(page.get_by_label("Model version", exact=True).locator("option")).to_have_count(2)
    shot(page, f"{who}-defects")


def check_alerts(page: Page, demo: Demo, who: str) -> None:
    page.goto(f"{demo.url}/alerts")
    expect(page.locator("#live-state")).to_have_text("Live")
    expect(page.locator("#alert-feed li").first).to_be_visible()
    shot(page, f"{who}-alerts")


def check_nodes(page: Page, demo: Demo, who: str) -> None:
    page.goto(f"{demo.url}/nodes")
    expect(page.locator("#nodes tbody tr").first).to_contain_text("demo-node")
    shot(page, f"{who}-nodes")


def test_quality_engineer_sees_every_page_and_the_evidence_image(page: Page, demo: Demo) -> None:
    first_sign_in(page, demo, "quinn.quality")
    assert nav(page) == [
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
    for check in (check_overview, check_defects, check_alerts, check_nodes):
        check(page, demo, "quality")
    page.goto(f"{demo.url}/record?alert={demo.alert_id}")
    expect(page.locator("#record-fields")).to_contain_text("demo-node")
    page.get_by_role("button", name="Open evidence").click()
    image = page.locator("#evidence-image")
    expect(image).to_have_attribute("data-loaded", "true", timeout=90_000)
    assert page.evaluate("document.querySelector('#evidence-image').naturalWidth") > 0
    # The demo keeps only the defects (evidence.crop: defects): the image is at most the ROI
    # plus margin (500 x 464), its place in the frame is shown, and every region box drawn
    # over it, shifted by that place, lies inside it.
    width, height = page.locator("#evidence-image").evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert 0 < width <= 500 and 0 < height <= 464
    expect(page.locator("#evidence-region")).to_contain_text(f"{width} × {height} px")
    boxes = page.locator("#evidence-viewer .region-box rect").evaluate_all(
        "rs => rs.map(r => ['x', 'y', 'width', 'height'].map(a => Number(r.getAttribute(a))))"
    )
    assert boxes
    for x, y, w, h in boxes:
        assert min(x, y) >= -0.5 and x + w <= width + 0.5 and y + h <= height + 0.5
    shot(page, "quality-record")
    page.goto(f"{demo.url}/models")
    expect(page.get_by_role("heading", name="Register a signed model package")).to_be_visible()
    # The demo's model, released through the registry: registered, approved, running on line-1.
    models = page.locator("#models")
    expect(models.locator("tbody tr")).to_have_count(1)
    expect(models.locator("tbody tr").first).to_contain_text("demo-part")
    expect(models.locator("tbody tr").first).to_contain_text("approved")
    expect(models.locator("tbody tr").first).to_contain_text("line-1")
    expect(models).not_to_contain_text("No model version is registered yet")
    expect(page.locator("#releases tbody tr").first).to_contain_text("line line-1")
    shot(page, "quality-models")
    page.goto(f"{demo.url}/retention")
    expect(page.get_by_label("Inspection results (days)")).to_have_value(re.compile(r"^\d+$"))
    shot(page, "quality-retention")
    # The demo's label station: its checks, and now and then a wrong label naming the field.
    page.goto(f"{demo.url}/labels")
    station = page.locator('#stations .card[data-station="st-30-label"]')
    expect(station).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(station).to_contain_text("read and matched")
    shot(page, "quality-labels")


def _walkway_hours(root: Path) -> int:
    """Zone-hours of the walkway's PPE counts on the server (an hour arrives once it is over)."""
    sql = "SELECT row_id FROM ppe_counts WHERE camera_id = 'cam-walkway'"
    return len(_query(root / "server" / "lineguard.db", sql))


def test_production_supervisor_sees_quality_and_alerts(page: Page, demo: Demo) -> None:
    first_sign_in(page, demo, "sam.super")
    for check in (check_overview, check_defects, check_alerts):
        check(page, demo, "supervisor")
    # The walkway's PPE counts (enabled for the demo only). Counts leave the node per zone and
    # hour, when the hour is over or (the demo's setting) the node stops: the page shows the
    # walkway's hours once one has turned during this run, and otherwise says when they come.
    assert "PPE" in nav(page)
    arrived = _walkway_hours(demo.root)
    page.goto(f"{demo.url}/ppe")
    expect(page.locator("#ppe-note")).to_contain_text("Minimum count: 5")
    expect(page.locator("#ppe-title + .hint")).to_contain_text("when the hour is over")
    walkway = page.locator("#ppe-hours tbody tr", has_text="cam-walkway").first
    if arrived:  # counts on the server before the page was opened are on the page
        expect(walkway).to_contain_text("walkway")
    else:  # none yet (or an hour turned this very moment)
        waiting = page.get_by_text(
            "an hour's counts arrive when the hour is over (a node restart continues the hour"
        )
        expect(waiting.or_(walkway)).to_be_visible()
    shot(page, "supervisor-ppe")


def test_auditor_reads_the_audit_log(page: Page, demo: Demo) -> None:
    first_sign_in(page, demo, "ada.audit")
    assert nav(page) == ["Audit log"]
    page.goto(f"{demo.url}/audit")
    expect(page.locator("#entries tbody tr").nth(5)).to_be_visible()
    expect(page.locator("#chain-status")).to_contain_text(re.compile(r"\S"))
    shot(page, "auditor-audit")


def test_administrator_manages_accounts_nodes_and_retention(page: Page, demo: Demo) -> None:
    first_sign_in(page, demo, "demo.admin")
    assert nav(page) == ["Nodes", "Models", "Users & roles", "Retention", "Integrations", "Governance"]
    page.goto(f"{demo.url}/users")
    expect(page.locator("#users tbody tr")).to_have_count(5)
    shot(page, "admin-users")
    page.goto(f"{demo.url}/nodes")
    expect(page.get_by_role("button", name="Revoke node demo-node")).to_be_visible()
    shot(page, "admin-nodes")
    page.goto(f"{demo.url}/retention")
    expect(page.get_by_label("Inspection results (days)")).to_be_editable()
    shot(page, "admin-retention")


def test_maintenance_technician_sees_results_but_no_evidence(page: Page, demo: Demo) -> None:
    first_sign_in(page, demo, "max.maint")
    assert nav(page) == ["Overview", "Defects", "Alerts", "Nodes", "SPC", "Labels", "Thermal", "Ask"]
    for check in (check_overview, check_alerts, check_nodes):
        check(page, demo, "maintenance")
    page.goto(f"{demo.url}/record?alert={demo.alert_id}")
    expect(page.locator("#record-fields")).to_contain_text("Verdict")
    expect(page.locator("#evidence-note")).to_contain_text("only to roles that may see them")
    expect(page.get_by_role("button", name="Open evidence")).to_have_count(0)
    shot(page, "maintenance-record")
    # The demo's motor under its thermal camera. This test runs last in the module, so the other
    # journeys have used most of the motor's learning period before it waits for the first reading.
    deadline = time.monotonic() + DATA_TIMEOUT_S
    while time.monotonic() < deadline and not _has_thermal_reading(demo.root):
        time.sleep(0.5)
    assert _has_thermal_reading(demo.root), f"no thermal reading within {DATA_TIMEOUT_S:.0f} s"
    page.goto(f"{demo.url}/thermal")
    motor = page.locator('#assets .card[data-asset="motor"]', has_text="cam-thermal")
    expect(motor).to_contain_text("Band")
    expect(page.locator("#thermal-chart")).to_have_attribute("data-points", re.compile(r"^[1-9]\d*$"))
    shot(page, "maintenance-thermal")
