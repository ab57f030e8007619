"""Finding 4 of the 2026-12 security review: API tokens survived a password change or reset.

The attack: someone who learnt a person's password mints an API token with it; the
person changes their password (or an administrator resets it) — and the token kept
working. Now every live token of the person is revoked when their credentials change,
each revocation audited with its reason.
"""

from __future__ import annotations

from lineguard.server.auth import accounts
from lineguard.server.auth.catalog import Role
from lineguard.server.auth.dependencies import CSRF_HEADER
from tests.unit.server.auth.harness import AuthHarness

TOKENS = "/api/v1/auth/tokens"
ME = "/api/v1/auth/me"


def _mint(harness: AuthHarness, csrf: str) -> str:
    body = {"name": "stolen", "actions": ["inspection_results.read"], "days": 30}
    response = harness.client.post(TOKENS, json=body, headers={CSRF_HEADER: csrf})
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def _works(harness: AuthHarness, token: str) -> int:
    return harness.client.get(ME, headers={"Authorization": f"Bearer {token}"}).status_code


def test_own_password_change_revokes_every_token(harness: AuthHarness) -> None:
    person = harness.add_person("j.doe", [Role.MAINTENANCE_TECHNICIAN], mfa=False)
    csrf = harness.sign_in(person)
    tokens = [_mint(harness, csrf), _mint(harness, csrf)]
    assert [_works(harness, t) for t in tokens] == [200, 200]
    changed = harness.client.post(
        "/api/v1/auth/password",
        json={"current_password": person.password, "new_password": "a fresh long passphrase"},
        headers={CSRF_HEADER: csrf},
    )
    assert changed.status_code == 200, changed.text
    harness.client.cookies.clear()
    assert [_works(harness, t) for t in tokens] == [401, 401]
    revoked = harness.trail.of("auth.api_token_revoked")
    assert [e["reason"] for e in revoked] == ["password_changed", "password_changed"]


def test_administrator_reset_revokes_every_token(harness: AuthHarness) -> None:
    person = harness.add_person("j.doe", [Role.MAINTENANCE_TECHNICIAN], mfa=False)
    token = _mint(harness, harness.sign_in(person))
    harness.client.cookies.clear()
    assert _works(harness, token) == 200
    with harness.context.sessions() as session:
        user = accounts.user_by_name(session, "j.doe")
        assert user is not None
        accounts.reset_password(
            session, runtime=harness.runtime, user=user, by="user:a.admin", audit=harness.trail
        )
        session.commit()
    assert _works(harness, token) == 401
    (event,) = harness.trail.of("auth.api_token_revoked")
    assert event["reason"] == "password_reset"
    assert [a for n, a, _ in harness.trail.events if n == "auth.api_token_revoked"] == ["user:a.admin"]
