"""User administration over the API: no self-escalation, separation of duties, disabling."""

from __future__ import annotations

from datetime import timedelta

from lineguard.server.auth.catalog import Role
from lineguard.server.auth.dependencies import CSRF_HEADER
from tests.unit.server.auth.harness import AuthHarness

USERS = "/api/v1/auth/users"


def test_admin_creates_a_user_with_a_one_time_password(harness: AuthHarness) -> None:
    admin = harness.add_person("i.admin", [Role.IT_ADMINISTRATOR])
    csrf = harness.sign_in(admin)
    created = harness.client.post(
        USERS, json={"username": "n.new", "display_name": "N New"}, headers={CSRF_HEADER: csrf}
    )
    assert created.status_code == 201, created.text
    assert created.json()["user"]["must_change_password"] is True
    assert len(created.json()["one_time_password"]) >= 16
    shared = harness.client.post(
        USERS, json={"username": "shift2", "display_name": "Shift 2"}, headers={CSRF_HEADER: csrf}
    )
    assert shared.status_code == 400
    assert "shared account" in shared.json()["message"]


def test_admin_cannot_grant_a_role_to_themselves(harness: AuthHarness) -> None:
    admin = harness.add_person("i.admin", [Role.IT_ADMINISTRATOR])
    csrf = harness.sign_in(admin)
    response = harness.client.post(
        f"{USERS}/{admin.id}/grants", json={"role": "quality_engineer"}, headers={CSRF_HEADER: csrf}
    )
    assert response.status_code == 403
    assert "themselves" in response.json()["message"]
    denial = harness.trail.of("access.denied")[-1]
    assert denial["action"] == "users_and_roles.grant"
    assert "themselves" in denial["reason"]
    me = harness.client.get("/api/v1/auth/me").json()
    assert [g["role"] for g in me["grants"]] == ["it_administrator"]


def test_second_admin_may_grant_but_not_a_toxic_combination(harness: AuthHarness) -> None:
    admin = harness.add_person("i.admin", [Role.IT_ADMINISTRATOR])
    other = harness.add_person("i.other", [Role.IT_ADMINISTRATOR])
    bob = harness.add_person("b.worker", [])
    csrf = harness.sign_in(admin)
    ok = harness.client.post(
        f"{USERS}/{bob.id}/grants", json={"role": "maintenance_technician"}, headers={CSRF_HEADER: csrf}
    )
    assert ok.status_code == 201, ok.text
    toxic = harness.client.post(
        f"{USERS}/{other.id}/grants", json={"role": "quality_engineer"}, headers={CSRF_HEADER: csrf}
    )
    assert toxic.status_code == 409
    assert any("evidence" in line for line in toxic.json()["details"])
    auditor_too = harness.client.post(
        f"{USERS}/{bob.id}/grants", json={"role": "auditor"}, headers={CSRF_HEADER: csrf}
    )
    assert auditor_too.status_code == 409
    assert harness.trail.of("user.role_granted")[-1]["username"] == "b.worker"


def test_partner_grant_needs_lines_and_an_end(harness: AuthHarness) -> None:
    admin = harness.add_person("i.admin", [Role.IT_ADMINISTRATOR])
    partner = harness.add_person("p.vendor", [])
    csrf = harness.sign_in(admin)
    url = f"{USERS}/{partner.id}/grants"
    no_lines = harness.client.post(url, json={"role": "external_partner"}, headers={CSRF_HEADER: csrf})
    assert no_lines.status_code == 400
    no_end = harness.client.post(
        url, json={"role": "external_partner", "lines": ["line-1"]}, headers={CSRF_HEADER: csrf}
    )
    assert no_end.status_code == 400
    until = (harness.clock.now.replace(microsecond=0)).isoformat().replace("+00:00", "Z")
    past = harness.client.post(
        url,
        json={"role": "external_partner", "lines": ["line-1"], "until": until},
        headers={CSRF_HEADER: csrf},
    )
    assert past.status_code == 400
    end = (harness.clock.now.replace(microsecond=0) + timedelta(days=14)).isoformat()
    ok = harness.client.post(
        url, json={"role": "external_partner", "lines": ["line-1"], "until": end}, headers={CSRF_HEADER: csrf}
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["lines"] == ["line-1"]


def test_disabling_a_user_ends_their_session_at_once(harness: AuthHarness) -> None:
    admin = harness.add_person("i.admin", [Role.IT_ADMINISTRATOR])
    tech = harness.add_person("m.tech", [Role.MAINTENANCE_TECHNICIAN], mfa=False)
    harness.sign_in(tech)
    tech_cookie = harness.client.cookies.get("__Host-lineguard_session")
    csrf = harness.sign_in(admin)
    assert harness.client.post(f"{USERS}/{tech.id}/disable", headers={CSRF_HEADER: csrf}).status_code == 200
    own = harness.client.post(f"{USERS}/{admin.id}/disable", headers={CSRF_HEADER: csrf})
    assert own.status_code == 409
    harness.client.cookies.clear()
    harness.client.cookies.set("__Host-lineguard_session", tech_cookie or "")
    assert harness.client.get("/api/v1/auth/me").status_code == 401
    assert harness.login(tech).status_code == 401
    assert "user.disabled" in harness.trail.names()


def test_reset_mfa_forces_enrollment_again(harness: AuthHarness) -> None:
    admin = harness.add_person("i.admin", [Role.IT_ADMINISTRATOR])
    qe = harness.add_person("q.eng", [Role.QUALITY_ENGINEER])
    csrf = harness.sign_in(admin)
    assert harness.client.post(f"{USERS}/{qe.id}/reset-mfa", headers={CSRF_HEADER: csrf}).status_code == 200
    harness.client.cookies.clear()
    assert harness.login(qe).json()["state"] == "mfa_enroll"
    assert "auth.mfa_reset" in harness.trail.names()
