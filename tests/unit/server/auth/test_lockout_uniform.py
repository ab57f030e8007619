"""Finding 7 of the 2026-12 security review: lockout let anyone discover accounts and
keep any account locked.

The attacks: (1) after a few failures a real account answered 429 and an unknown name
401 — the answer named the accounts that exist; (2) anyone anywhere could lock a person
out by failing on their name, and the failure count never reset, so locks grew to a
day. Now locks are per (account name as typed, source address), known name or not, a
locked attempt costs a password hash like any other, success resets, and an
administrator can unlock (audited).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from lineguard.server.auth.catalog import Role
from lineguard.server.auth.dependencies import CSRF_HEADER
from lineguard.server.auth.lockout import LockoutPolicy, LockoutState
from tests.unit.server.auth.harness import AuthHarness

LOGIN = "/api/v1/auth/login"


def _attempt(harness: AuthHarness, username: str, password: str, *, source: str) -> Any:
    """A sign-in from the TCP peer address ``source`` (forwarding headers are not trusted)."""
    client = TestClient(harness.app, base_url="https://testserver", client=(source, 50000))
    return client.post(LOGIN, json={"username": username, "password": password})


def _fail_until_locked(harness: AuthHarness, username: str, *, source: str = "testclient") -> list[int]:
    threshold = harness.runtime.config.lockout_threshold
    statuses = [
        _attempt(harness, username, "wrong guess 123", source=source).status_code for _ in range(threshold)
    ]
    statuses.append(_attempt(harness, username, "wrong guess 123", source=source).status_code)
    return statuses


def test_a_locked_real_account_and_an_unknown_name_answer_the_same(harness: AuthHarness) -> None:
    harness.runtime.limiter.per_minute = 1000
    harness.add_person("r.eal", [Role.MAINTENANCE_TECHNICIAN], mfa=False)
    real = _fail_until_locked(harness, "r.eal")
    ghost = _fail_until_locked(harness, "n.obody")
    assert real == ghost == [401] * harness.runtime.config.lockout_threshold + [429]
    real_locked = _attempt(harness, "r.eal", "wrong guess 123", source="testclient")
    ghost_locked = _attempt(harness, "n.obody", "wrong guess 123", source="testclient")
    assert real_locked.json()["message"] == ghost_locked.json()["message"]
    assert real_locked.headers["Retry-After"] == ghost_locked.headers["Retry-After"]


def test_a_locked_attempt_spends_a_password_hash_like_any_other(harness: AuthHarness) -> None:
    harness.runtime.limiter.per_minute = 1000
    harness.add_person("r.eal", [Role.MAINTENANCE_TECHNICIAN], mfa=False)
    _fail_until_locked(harness, "r.eal")
    hashed: list[str] = []
    real_burn = harness.runtime.hasher.burn
    harness.runtime.hasher.burn = lambda password: (hashed.append(password), real_burn(password))[-1]  # type: ignore[method-assign]
    assert _attempt(harness, "r.eal", "locked attempt 1", source="testclient").status_code == 429
    assert hashed == ["locked attempt 1"]


def test_an_attacker_elsewhere_cannot_lock_the_person_out(harness: AuthHarness) -> None:
    harness.runtime.limiter.per_minute = 1000
    person = harness.add_person("v.ictim", [Role.MAINTENANCE_TECHNICIAN], mfa=False)
    assert _fail_until_locked(harness, "v.ictim", source="10.66.6.6")[-1] == 429
    own = _attempt(harness, person.username, person.password, source="10.1.1.1")
    assert own.status_code == 200, own.text


def test_success_resets_the_count_and_the_backoff(harness: AuthHarness) -> None:
    harness.runtime.limiter.per_minute = 1000
    person = harness.add_person("j.doe", [Role.MAINTENANCE_TECHNICIAN], mfa=False)
    minutes = harness.runtime.config.lockout_minutes
    for _ in range(3):  # locked, wait it out, sign in, repeat: the lock never grows
        assert _fail_until_locked(harness, "j.doe")[-1] == 429
        locked = _attempt(harness, "j.doe", person.password, source="testclient")
        assert int(locked.headers["Retry-After"]) <= minutes * 60
        harness.clock.advance(minutes=minutes, seconds=1)
        assert _attempt(harness, "j.doe", person.password, source="testclient").status_code == 200


def test_backoff_doubles_while_failures_continue() -> None:
    policy = LockoutPolicy(threshold=1)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    first = policy.after_failure(LockoutState(), now=now)
    second = policy.after_failure(first, now=now)
    assert first.locked_until is not None and second.locked_until is not None
    assert (second.locked_until - now) == 2 * (first.locked_until - now)
    assert policy.after_success(second) == LockoutState()


def test_administrator_unlock_is_audited_and_works_for_every_source(harness: AuthHarness) -> None:
    harness.runtime.limiter.per_minute = 1000
    person = harness.add_person("l.ocked", [Role.MAINTENANCE_TECHNICIAN], mfa=False)
    admin = harness.add_person("a.dmin", [Role.IT_ADMINISTRATOR])
    for source in ("10.0.0.1", "10.0.0.2"):
        _fail_until_locked(harness, "l.ocked", source=source)
    csrf = harness.sign_in(admin)
    listed = {u["username"]: u for u in harness.client.get("/api/v1/auth/users").json()}
    assert listed["l.ocked"]["locked_until"] is not None
    response = harness.client.post(f"/api/v1/auth/users/{person.id}/unlock", headers={CSRF_HEADER: csrf})
    assert response.status_code == 200, response.text
    assert response.json()["locked_until"] is None
    assert harness.trail.of("auth.account_unlocked") == [
        {"outcome": "success", "username": "l.ocked", "sources_cleared": 2}
    ]
    harness.client.cookies.clear()
    again = _attempt(harness, person.username, person.password, source="10.0.0.1")
    assert again.status_code == 200, again.text
