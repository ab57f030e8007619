"""Finding 10 of the 2026-12 security review (the auth parts).

* A session past only the password step could read ``/auth/me`` in full (display name,
  role grants): now, until sign-in is complete, it says only where the session stands.
* The session cookie was persistent (``Max-Age``): now it is a browser-session cookie;
  the server still ends sessions on its idle and absolute timeouts.
"""

from __future__ import annotations

from lineguard.server.auth.catalog import Role
from tests.unit.server.auth.harness import AuthHarness

ME = "/api/v1/auth/me"


def test_a_password_only_session_learns_nothing_about_the_person(harness: AuthHarness) -> None:
    person = harness.add_person("q.eng", [Role.QUALITY_ENGINEER])  # has TOTP: password is step one
    harness.clock.advance(seconds=31)
    assert harness.login(person).json()["state"] == "mfa_pending"
    me = harness.client.get(ME).json()
    assert me["state"] == "mfa_pending"
    assert (me["grants"], me["permissions"], me["display_name"]) == ([], [], "q.eng")
    harness.sign_in(person)
    full = harness.client.get(ME).json()
    assert full["display_name"] == "Q.Eng" and full["grants"] and full["permissions"]


def test_the_session_cookie_dies_with_the_browser(harness: AuthHarness) -> None:
    person = harness.add_person("j.doe", [Role.MAINTENANCE_TECHNICIAN], mfa=False)
    cookie = harness.login(person).headers["set-cookie"].lower()
    assert "max-age" not in cookie and "expires" not in cookie
