"""The dashboard's server side without a browser: pages and static files with their
security headers, the live alert stream, record detail and the audited evidence request,
each refused to the roles the policy excludes (and the refusal audited)."""

from __future__ import annotations

import hashlib
import re
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from lineguard.server.audit.models import AuditEntryRow
from lineguard.server.auth.catalog import Role
from lineguard.server.dashboard import PAGES
from lineguard.server.dashboard.site import render_page
from lineguard.web.paths import STATIC_DIR, TEMPLATES_DIR
from tests.e2e.plant import NODES, Plant, add_person, make_event, raise_alert, send
from tests.support.evidence_views import sign_in


def client(plant: Plant) -> httpx.Client:
    return httpx.Client(base_url=plant.url, verify=ssl.create_default_context(cafile=str(plant.ca_file)))


def signed_in(plant: Plant, username: str) -> tuple[httpx.Client, str]:
    """A client with a full session (password, then TOTP when enrolled) and its CSRF token."""
    return sign_in(plant, plant.url, username)


@pytest.fixture(scope="module")
def people(plant: Plant) -> Iterator[dict[str, tuple[httpx.Client, str]]]:
    """Own accounts (TOTP codes are single-use, so the browser tests' people stay theirs)."""
    add_person(plant, "quentin.api", (Role.QUALITY_ENGINEER,))
    add_person(plant, "lena.lineone", (Role.QUALITY_ENGINEER,), lines=["line-1"])
    add_person(plant, "tina.api", (Role.MAINTENANCE_TECHNICIAN,), mfa=False)
    add_person(plant, "adam.api", (Role.IT_ADMINISTRATOR,))
    sessions = {
        name: signed_in(plant, name) for name in ["quentin.api", "lena.lineone", "tina.api", "adam.api"]
    }
    yield sessions
    for c, _ in sessions.values():
        c.close()


def audit_entries(plant: Plant, actor: str, name: str) -> list[str]:
    with plant.session() as session:
        return list(
            session.scalars(
                select(AuditEntryRow.payload).where(AuditEntryRow.actor == actor, AuditEntryRow.name == name)
            )
        )


# ---- pages and static files ---------------------------------------------------------------


def test_every_page_is_served_with_a_strict_policy(plant: Plant) -> None:
    with client(plant) as c:
        for page in PAGES:
            r = c.get(page.path)
            assert r.status_code == 200, page.path
            assert r.headers["content-type"].startswith("text/html")
            csp = r.headers["content-security-policy"]
            assert (
                "script-src 'self'" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
            )
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["x-frame-options"] == "DENY"
            assert r.headers["cache-control"] == "no-store"


def test_pages_hold_no_inline_script_style_or_foreign_url() -> None:
    for page in PAGES:
        text = render_page(page).decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), f"{page.path}: inline <script>"
        assert not re.search(r"\son[a-z]+\s*=", text), f"{page.path}: inline event handler"
        assert not re.search(r"\sstyle\s*=|<style", text), f"{page.path}: inline style"
        assert not re.search(r"(src|href)=\"(https?:)?//", text), f"{page.path}: a URL outside the server"
        assert "{{" not in text, f"{page.path}: a layout placeholder was left"


def test_every_referenced_script_and_module_exists() -> None:
    missing = []
    for page in PAGES:
        for ref in re.findall(r'(?:src|href)="/static/([^"]+)"', render_page(page).decode()):
            if not (STATIC_DIR / ref).is_file():
                missing.append(f"{page.path} → {ref}")
    fragments = {p.stem for p in (TEMPLATES_DIR / "pages").glob("*.html")}
    assert fragments == {p.name for p in PAGES if not p.standalone}, (
        "a fragment without a page, or the reverse"
    )
    for script in STATIC_DIR.joinpath("js").rglob("*.js"):
        for ref in re.findall(r'from "(\.[^"]+)"', script.read_text()):
            if not (script.parent / ref).resolve().is_file():
                missing.append(f"{script.name} → {ref}")
    assert missing == []


@pytest.mark.parametrize(
    "path",
    [
        "/static/../paths.py",
        "/static/%2e%2e/paths.py",
        "/static/..%2fpaths.py",
        "/static/js",
        "/static/js/nothing.js",
        "/static/vendor/../../paths.py",
        "/static/.hidden.py",
        "/static/" + "a" * 400 + ".js",
    ],
)
def test_static_files_never_leave_the_static_folder(plant: Plant, path: str) -> None:
    with client(plant) as c:
        r = c.get(path)
    assert r.status_code in {404, 422}, r.text
    assert "import" not in r.text  # no Python source came back


def test_vendored_chart_library_matches_its_recorded_digest() -> None:
    readme = (STATIC_DIR / "vendor" / "README.md").read_text()
    recorded = re.search(r"`chartjs/chart\.umd\.min\.js`[^|]*\| `([0-9a-f]{64})`", readme)
    assert recorded is not None
    actual = hashlib.sha256((STATIC_DIR / "vendor" / "chartjs" / "chart.umd.min.js").read_bytes()).hexdigest()
    assert actual == recorded.group(1)
    assert (STATIC_DIR / "vendor" / "chartjs" / "LICENSE.md").read_text().startswith("The MIT License")


# ---- record detail and evidence -----------------------------------------------------------


def test_quality_engineer_opens_evidence_and_the_request_is_audited(
    plant: Plant, people: dict[str, tuple[httpx.Client, str]]
) -> None:
    c, csrf = people["quentin.api"]
    record = c.get(f"/api/v1/dashboard/records/{plant.evidence_event_id}").json()
    assert record["has_evidence"] is True and record["part_id"].startswith("P-")
    assert "evidence_ref" not in record  # the reference is handed out only by the audited route
    r = c.post(
        f"/api/v1/dashboard/records/{plant.evidence_event_id}/evidence",
        json={"purpose": "customer complaint"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 202, r.text
    answer = r.json()
    assert answer["status"] == "pending" and answer["node_id"] == "edge-l1"
    payloads = audit_entries(plant, "user:quentin.api", "access.evidence")
    assert any(answer["evidence_ref"] in p and "customer complaint" in p for p in payloads)
    # The real node edge-l1 answers over mTLS; the image is handed out once.
    deadline = time.monotonic() + 60
    view = c.get(answer["view_url"])
    while view.status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.1)
        view = c.get(answer["view_url"])
    assert view.status_code == 200, view.text
    assert view.headers["content-type"] == "image/jpeg" and view.headers["cache-control"] == "no-store"
    assert view.content[:3] == b"\xff\xd8\xff"
    assert c.get(answer["view_url"]).status_code == 410
    assert any('"delivered"' in p for p in audit_entries(plant, "user:quentin.api", "access.evidence_view"))


def test_evidence_request_needs_the_csrf_token(
    plant: Plant, people: dict[str, tuple[httpx.Client, str]]
) -> None:
    c, _ = people["quentin.api"]
    r = c.post(f"/api/v1/dashboard/records/{plant.evidence_event_id}/evidence", json={"purpose": "x"})
    assert r.status_code == 403


@pytest.mark.parametrize("username", ["tina.api", "adam.api"])
def test_roles_without_evidence_rights_are_refused_and_audited(
    plant: Plant, people: dict[str, tuple[httpx.Client, str]], username: str
) -> None:
    c, csrf = people[username]
    r = c.post(
        f"/api/v1/dashboard/records/{plant.evidence_event_id}/evidence",
        json={"purpose": "curious"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden"
    assert c.get("/api/v1/evidence-views/evv_0000").status_code == 403
    assert any("evidence_images.read" in p for p in audit_entries(plant, f"user:{username}", "access.denied"))
    assert audit_entries(plant, f"user:{username}", "access.evidence") == []


def test_a_line_scoped_engineer_cannot_open_another_lines_record(
    plant: Plant, people: dict[str, tuple[httpx.Client, str]]
) -> None:
    c, csrf = people["lena.lineone"]
    with plant.session() as session:
        from lineguard.server.ingest.models import InspectionEventRow

        line2 = session.scalars(
            select(InspectionEventRow.event_id).where(InspectionEventRow.line_id == "line-2").limit(1)
        ).one()
    assert c.get(f"/api/v1/dashboard/records/{line2}").status_code == 403
    r = c.post(f"/api/v1/dashboard/records/{line2}/evidence", json={}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403
    assert c.get(f"/api/v1/dashboard/records/{plant.evidence_event_id}").status_code == 200  # line-1


@pytest.mark.parametrize(
    ("bad", "status"),
    [
        ("evt_does_not_exist", {404}),
        ("x" * 129, {404, 422}),
        # A control character in the path is refused before routing (review finding 9).
        ("%00", {400}),
    ],
)
def test_unknown_or_malformed_record_ids_are_clean_errors(
    plant: Plant, people: dict[str, tuple[httpx.Client, str]], bad: str, status: set[int]
) -> None:
    c, _ = people["quentin.api"]
    r = c.get(f"/api/v1/dashboard/records/{bad}")
    assert r.status_code in status
    assert set(r.json()) == {"code", "message", "details"}


def test_alert_detail_links_the_record(plant: Plant, people: dict[str, tuple[httpx.Client, str]]) -> None:
    c, _ = people["tina.api"]
    detail = c.get(f"/api/v1/dashboard/alerts/{plant.alert_ids[0]}").json()
    assert detail["alert"]["alert_id"] == plant.alert_ids[0]
    assert detail["record"]["event_id"] == detail["event_id"]


# ---- live alert stream -----------------------------------------------------------------------


def test_stream_refuses_without_session_or_event_stream_accept(
    plant: Plant, people: dict[str, tuple[httpx.Client, str]]
) -> None:
    with client(plant) as anonymous:
        assert (
            anonymous.get(
                "/api/v1/dashboard/alerts/stream", headers={"Accept": "text/event-stream"}
            ).status_code
            == 401
        )
    c, _ = people["adam.api"]
    assert (
        c.get("/api/v1/dashboard/alerts/stream", headers={"Accept": "text/event-stream"}).status_code == 403
    )
    c, _ = people["tina.api"]
    r = c.get("/api/v1/dashboard/alerts/stream")
    assert r.status_code == 406 and r.json()["code"] == "not_acceptable"


def test_stream_pushes_new_alerts_and_ends_when_the_session_ends(plant: Plant) -> None:
    add_person(plant, "sam.stream", (Role.MAINTENANCE_TECHNICIAN,), mfa=False)
    c, csrf = signed_in(plant, "sam.stream")
    events: list[str] = []
    with c.stream(
        "GET", "/api/v1/dashboard/alerts/stream", headers={"Accept": "text/event-stream"}, timeout=30
    ) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        alert_id = raise_alert(plant, message_part="P-STREAM-1")
        for line in lines:
            if line.startswith("event: "):
                events.append(line.removeprefix("event: "))
            if line.startswith("data: ") and alert_id in line:
                assert "P-STREAM-1" in line  # the message is opened (decrypted) for the reader
                # Sign out from another connection: the stream notices at its next recheck.
                with client(plant) as other:
                    other.cookies.update(c.cookies)
                    assert (
                        other.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
                    )
            if events and events[-1] == "end":
                break
    assert events[0] == "alert" and events[-1] == "end"
    c.close()


@pytest.mark.parametrize(
    ("event_id", "captured_days_ago"),
    [
        ("lot42:part-7", 0),  # a plant-minted id: no time in it
        (None, 30),  # a LineGuard id minted long after capture (a backfill)
    ],
)
def test_records_are_found_whatever_their_id_says_about_time(
    plant: Plant, people: dict[str, tuple[httpx.Client, str]], event_id: str | None, captured_days_ago: int
) -> None:
    node = NODES["edge-l1"]
    event = make_event(node, "cam-1", datetime.now(UTC) - timedelta(days=captured_days_ago), 1)
    if event_id is not None:
        event["event_id"] = event_id
    send(plant, node, [event], [])
    c, _ = people["quentin.api"]
    r = c.get(f"/api/v1/dashboard/records/{event['event_id']}")
    assert r.status_code == 200, r.text
    assert r.json()["captured_at"][:10] == event["captured_at"][:10]
