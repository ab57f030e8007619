"""Signing in: one-time passwords, MFA, replayed codes, lockout, rate limits — on both engines."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from lineguard.server.auth.catalog import Role
from lineguard.server.auth.dependencies import CSRF_HEADER, SESSION_COOKIE
from lineguard.server.auth.models import BrowserSession
from tests.unit.server.auth.harness import AuthHarness, running_harness

ME = "/api/v1/auth/me"


def test_unknown_user_and_wrong_password_get_the_same_answer(harness: AuthHarness) -> None:
    person = harness.add_person("j.doe", [Role.MAINTENANCE_TECHNICIAN], mfa=False)
    unknown = harness.client.post("/api/v1/auth/login", json={"username": "nobody", "password": "x" * 12})
    wrong = harness.login(person, password="not the password")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["message"] == wrong.json()["message"] == "wrong user name or password"
    reasons = [e["reason"] for e in harness.trail.of("auth.login_failed")]
    assert reasons == ["unknown_user", "bad_password"]


def test_session_cookie_is_host_only_secure_httponly_strict_and_stored_hashed(harness: AuthHarness) -> None:
    person = harness.add_person("j.doe", [Role.MAINTENANCE_TECHNICIAN], mfa=False)
    response = harness.login(person)
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    for attribute in ("Secure", "HttpOnly", "SameSite=strict", "Path=/"):
        assert attribute.lower() in cookie.lower()
    assert "domain=" not in cookie.lower()
    token = harness.session_cookie()
    assert token
    with harness.context.sessions() as session:
        stored = session.scalars(select(BrowserSession.token_hash)).all()
    assert token not in stored and len(stored) == 1 and len(stored[0]) == 64


def test_one_time_password_must_be_changed_first(harness: AuthHarness) -> None:
    person = harness.add_person("a.first", [Role.MAINTENANCE_TECHNICIAN], mfa=False, one_time=True)
    body = harness.login(person).json()
    assert body["state"] == "password_change"
    assert harness.client.get("/api/v1/auth/tokens").status_code == 403
    weak = harness.client.post(
        "/api/v1/auth/password",
        json={"current_password": person.password, "new_password": "short"},
        headers={CSRF_HEADER: body["csrf_token"]},
    )
    assert weak.status_code == 400
    changed = harness.client.post(
        "/api/v1/auth/password",
        json={"current_password": person.password, "new_password": "a much longer passphrase"},
        headers={CSRF_HEADER: body["csrf_token"]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["state"] == "active"
    assert harness.client.get("/api/v1/auth/tokens").status_code == 200
    assert "auth.password_changed" in harness.trail.names()


def test_mfa_sign_in_rotates_the_session_and_refuses_a_replayed_code(harness: AuthHarness) -> None:
    person = harness.add_person("q.eng", [Role.QUALITY_ENGINEER])
    harness.clock.advance(seconds=31)
    first = harness.login(person).json()
    assert first["state"] == "mfa_pending"
    pending_cookie = harness.session_cookie()
    assert harness.client.get("/api/v1/auth/tokens").status_code == 403  # not signed in yet
    code = harness.code(person)
    ok = harness.client.post(
        "/api/v1/auth/login/mfa", json={"code": code}, headers={CSRF_HEADER: first["csrf_token"]}
    )
    assert ok.status_code == 200 and ok.json()["state"] == "active" and ok.json()["mfa"] is True
    assert harness.session_cookie() != pending_cookie  # no session fixation
    # The pending session id is dead now.
    current_cookie = harness.session_cookie()
    harness.client.cookies.clear()
    harness.client.cookies.set(SESSION_COOKIE, pending_cookie or "")
    assert harness.client.get(ME).status_code == 401
    harness.client.cookies.clear()
    harness.client.cookies.set(SESSION_COOKIE, current_cookie or "")
    assert harness.client.get(ME).json()["state"] == "active"
    # Same code again, within its 30 s step, in a new sign-in: refused as a replay.
    harness.client.cookies.clear()
    second = harness.login(person).json()
    replay = harness.client.post(
        "/api/v1/auth/login/mfa", json={"code": code}, headers={CSRF_HEADER: second["csrf_token"]}
    )
    assert replay.status_code == 401
    assert "already used" in replay.json()["message"]
    assert harness.trail.of("auth.mfa_failed")


def test_wrong_and_malformed_codes_are_refused(harness: AuthHarness) -> None:
    person = harness.add_person("q.eng", [Role.QUALITY_ENGINEER])
    body = harness.login(person).json()
    headers = {CSRF_HEADER: body["csrf_token"]}
    good = harness.code(person)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    assert (
        harness.client.post("/api/v1/auth/login/mfa", json={"code": wrong}, headers=headers).status_code
        == 401
    )
    assert (
        harness.client.post("/api/v1/auth/login/mfa", json={"code": "12ab56"}, headers=headers).status_code
        == 400
    )
    assert harness.client.get(ME).json()["state"] == "mfa_pending"


def test_brute_force_locks_the_account_even_for_the_right_password(harness: AuthHarness) -> None:
    person = harness.add_person("j.doe", [Role.MAINTENANCE_TECHNICIAN], mfa=False)
    for _ in range(harness.runtime.config.lockout_threshold):
        assert harness.login(person, password="guess guess guess").status_code == 401
    locked = harness.login(person)
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert "locked" in locked.json()["message"]
    assert len(harness.trail.of("auth.account_locked")) == 1
    harness.clock.advance(minutes=harness.runtime.config.lockout_minutes, seconds=1)
    assert harness.login(person).status_code == 200


def test_wrong_codes_count_towards_lockout(harness: AuthHarness) -> None:
    person = harness.add_person("q.eng", [Role.QUALITY_ENGINEER])
    for _ in range(harness.runtime.config.lockout_threshold):
        body = harness.login(person).json()
        response = harness.client.post(
            "/api/v1/auth/login/mfa", json={"code": "000000"}, headers={CSRF_HEADER: body["csrf_token"]}
        )
        assert response.status_code in {401, 429}
    assert harness.login(person).status_code == 429


def test_one_address_spraying_many_accounts_is_rate_limited(db_url: str, tmp_path: Path) -> None:
    with running_harness(db_url, tmp_path / "server", login_attempts_per_minute=3) as h:
        statuses = [
            h.client.post(
                "/api/v1/auth/login", json={"username": f"user{i}", "password": "Winter2026!!"}
            ).status_code
            for i in range(5)
        ]
        assert statuses == [401, 401, 401, 429, 429]
        assert any(e["reason"] == "rate_limited" for e in h.trail.of("auth.login_failed"))
        h.clock.advance(seconds=61)
        assert (
            h.client.post("/api/v1/auth/login", json={"username": "x1", "password": "y" * 12}).status_code
            == 401
        )


def test_privileged_role_without_mfa_must_enroll_before_anything_else(harness: AuthHarness) -> None:
    person = harness.add_person("s.visor", [Role.PRODUCTION_SUPERVISOR], mfa=False)
    body = harness.login(person).json()
    assert body["state"] == "mfa_enroll"
    headers = {CSRF_HEADER: body["csrf_token"]}
    assert harness.client.get("/api/v1/auth/tokens").status_code == 403
    enrollment = harness.client.post("/api/v1/auth/mfa/enroll", headers=headers)
    assert enrollment.status_code == 200
    secret = enrollment.json()["secret"]
    assert enrollment.json()["otpauth_uri"].startswith("otpauth://totp/")
    import pyotp

    confirm = harness.client.post(
        "/api/v1/auth/mfa/confirm", json={"code": pyotp.TOTP(secret).at(harness.clock.now)}, headers=headers
    )
    assert confirm.status_code == 200, confirm.text
    assert confirm.json() | {"csrf_token": ""} == {
        "state": "active",
        "mfa": True,
        "username": "s.visor",
        "csrf_token": "",
    }
    me = harness.client.get(ME).json()
    assert any(p["action"] == "evidence_images.read" for p in me["permissions"])
    assert "auth.mfa_enrolled" in harness.trail.names()


def test_wrong_current_password_on_change_counts_towards_lockout(harness: AuthHarness) -> None:
    person = harness.add_person("j.doe", [Role.MAINTENANCE_TECHNICIAN], mfa=False)
    csrf = harness.sign_in(person)
    body = {"current_password": "not it at all", "new_password": "another long passphrase"}
    for _ in range(harness.runtime.config.lockout_threshold):
        response = harness.client.post("/api/v1/auth/password", json=body, headers={CSRF_HEADER: csrf})
        assert response.status_code == 400
        assert response.json()["message"] == "current password is wrong"
    harness.client.cookies.clear()
    assert harness.login(person).status_code == 429
