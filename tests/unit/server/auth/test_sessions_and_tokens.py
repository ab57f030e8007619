"""Forged, expired and revoked credentials; CSRF; API token scope — each a clear 401 or 403."""

from __future__ import annotations

import secrets

import pytest

from lineguard.server.auth.bearer import csrf_token_for
from lineguard.server.auth.catalog import Role
from lineguard.server.auth.dependencies import CSRF_HEADER, SESSION_COOKIE
from tests.unit.server.auth.harness import AuthHarness

ME = "/api/v1/auth/me"
TOKENS = "/api/v1/auth/tokens"


def _signed_in_technician(harness: AuthHarness) -> str:
    person = harness.add_person("m.tech", [Role.MAINTENANCE_TECHNICIAN], mfa=False)
    return harness.sign_in(person)


def test_no_cookie_is_401(harness: AuthHarness) -> None:
    response = harness.client.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_forged_session_cookie_is_401(harness: AuthHarness) -> None:
    _signed_in_technician(harness)
    harness.client.cookies.clear()
    harness.client.cookies.set(SESSION_COOKIE, secrets.token_urlsafe(32))
    assert harness.client.get(ME).status_code == 401
    harness.client.cookies.set(SESSION_COOKIE, "x" * 4000)
    assert harness.client.get(ME).status_code == 401


def test_idle_session_expires(harness: AuthHarness) -> None:
    _signed_in_technician(harness)
    assert harness.client.get(ME).status_code == 200
    harness.clock.advance(minutes=harness.runtime.config.session_idle_minutes, seconds=1)
    response = harness.client.get(ME)
    assert response.status_code == 401
    assert "expired" in response.json()["message"]


def test_active_session_still_ends_at_the_absolute_limit(harness: AuthHarness) -> None:
    _signed_in_technician(harness)
    steps = int(harness.runtime.config.session_absolute_hours * 60 / 10)
    for _ in range(steps - 1):
        harness.clock.advance(minutes=10)
        assert harness.client.get(ME).status_code == 200
    harness.clock.advance(minutes=10, seconds=1)
    assert harness.client.get(ME).status_code == 401


def test_logout_kills_the_session_id(harness: AuthHarness) -> None:
    csrf = _signed_in_technician(harness)
    cookie = harness.session_cookie()
    assert harness.client.post("/api/v1/auth/logout", headers={CSRF_HEADER: csrf}).status_code == 204
    harness.client.cookies.set(SESSION_COOKIE, cookie or "")
    assert harness.client.get(ME).status_code == 401
    assert "auth.logout" in harness.trail.names()


@pytest.mark.parametrize("header", [None, "", "0" * 64, "wrong"])
def test_unsafe_request_without_the_right_csrf_token_is_403(harness: AuthHarness, header: str | None) -> None:
    _signed_in_technician(harness)
    headers = {} if header is None else {CSRF_HEADER: header}
    response = harness.client.post(
        TOKENS, json={"name": "x", "actions": ["inspection_results.read"], "days": 1}, headers=headers
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]
    assert harness.trail.of("access.denied")[-1]["reason"].startswith("CSRF token")


def test_csrf_endpoint_returns_the_session_token(harness: AuthHarness) -> None:
    csrf = _signed_in_technician(harness)
    assert harness.client.get("/api/v1/auth/csrf").json()["csrf_token"] == csrf
    assert csrf == csrf_token_for(harness.session_cookie() or "")


def _mint(harness: AuthHarness, csrf: str, **body: object) -> dict[str, object]:
    payload = {"name": "mes", "actions": ["inspection_results.read"], "days": 30} | body
    response = harness.client.post(TOKENS, json=payload, headers={CSRF_HEADER: csrf})
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


def test_api_token_is_shown_once_and_works_within_its_scope(harness: AuthHarness) -> None:
    csrf = _signed_in_technician(harness)
    minted = _mint(harness, csrf)
    token = str(minted["token"])
    assert token.startswith("lgt_")
    listed = harness.client.get(TOKENS).json()
    assert listed[0]["token"] is None  # never shown again
    harness.client.cookies.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    me = harness.client.get(ME, headers=bearer)
    assert me.status_code == 200
    assert [p["action"] for p in me.json()["permissions"]] == ["inspection_results.read"]
    # A token may not mint tokens, and may not use what is outside its scope.
    again = harness.client.post(
        TOKENS, json={"name": "x", "actions": ["inspection_results.read"], "days": 1}, headers=bearer
    )
    assert again.status_code == 403


def test_api_token_cannot_carry_more_than_its_owner_holds(harness: AuthHarness) -> None:
    csrf = _signed_in_technician(harness)
    response = harness.client.post(
        TOKENS,
        json={"name": "x", "actions": ["evidence_images.read"], "days": 1},
        headers={CSRF_HEADER: csrf},
    )
    assert response.status_code == 403
    assert "evidence_images.read" in response.json()["details"][0]


def test_api_token_lifetime_is_bounded(harness: AuthHarness) -> None:
    csrf = _signed_in_technician(harness)
    too_long = harness.runtime.config.api_token_max_days + 1
    response = harness.client.post(
        TOKENS,
        json={"name": "x", "actions": ["inspection_results.read"], "days": too_long},
        headers={CSRF_HEADER: csrf},
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # wrong secret
        lambda t: "lgt_" + "0" * 32 + t[36:],  # unknown id
        lambda t: t.replace("lgt_", "lgx_"),  # malformed
        lambda t: "",  # empty
    ],
    ids=["wrong-secret", "unknown-id", "malformed", "empty"],
)
def test_forged_api_token_is_401(harness: AuthHarness, forge: object) -> None:
    csrf = _signed_in_technician(harness)
    token = str(_mint(harness, csrf)["token"])
    harness.client.cookies.clear()
    assert callable(forge)
    response = harness.client.get(ME, headers={"Authorization": f"Bearer {forge(token)}"})
    assert response.status_code == 401


def test_expired_and_revoked_api_tokens_are_401(harness: AuthHarness) -> None:
    csrf = _signed_in_technician(harness)
    short = _mint(harness, csrf, days=1)
    kept = _mint(harness, csrf, days=30)
    assert harness.client.delete(f"{TOKENS}/{kept['id']}", headers={CSRF_HEADER: csrf}).status_code == 204
    harness.client.cookies.clear()
    assert harness.client.get(ME, headers={"Authorization": f"Bearer {kept['token']}"}).status_code == 401
    harness.clock.advance(days=1, seconds=1)
    response = harness.client.get(ME, headers={"Authorization": f"Bearer {short['token']}"})
    assert response.status_code == 401
    assert "expired" in response.json()["message"]
    names = harness.trail.names()
    assert "auth.api_token_issued" in names and "auth.api_token_revoked" in names


def test_non_ascii_csrf_header_is_403_not_500(harness: AuthHarness) -> None:
    _signed_in_technician(harness)
    response = harness.client.post(
        TOKENS,
        json={"name": "x", "actions": ["inspection_results.read"], "days": 1},
        headers={CSRF_HEADER: b"\xe9\x80"},
    )
    assert response.status_code == 403


def test_line_bound_token_reaches_neither_other_lines_nor_site_data(harness: AuthHarness) -> None:
    finance = harness.add_person("f.ctrl", [Role.FINANCE_CONTROLLER, Role.PRODUCTION_SUPERVISOR])
    csrf = harness.sign_in(finance)
    refused = harness.client.post(
        TOKENS,
        json={"name": "x", "actions": ["finance_pricing.read"], "lines": ["line-1"], "days": 1},
        headers={CSRF_HEADER: csrf},
    )
    assert refused.status_code == 403  # site-wide data through a line-bound token: never
    minted = _mint(harness, csrf, actions=["production_data.read"], lines=["line-1"])
    harness.client.cookies.clear()
    me = harness.client.get(ME, headers={"Authorization": f"Bearer {minted['token']}"}).json()
    assert me["permissions"] == [{"action": "production_data.read", "lines": ["line-1"]}]
