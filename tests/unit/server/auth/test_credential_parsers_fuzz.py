"""Credential parsers and verifiers under arbitrary input: a clear error, never a pass."""

from __future__ import annotations

from datetime import UTC, datetime

import pyotp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lineguard.contracts.errors import AuthenticationError, InputError
from lineguard.server.auth import totp
from lineguard.server.auth.bearer import csrf_matches, csrf_token_for, new_api_token, parse_api_token
from lineguard.server.auth.lockout import (
    LockoutPolicy,
    LockoutState,
)
from lineguard.server.auth.passwords import PasswordHasher, PasswordRules

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = datetime(2026, 11, 22, 8, 0, 5, tzinfo=UTC)


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_any_bearer_text_parses_or_fails_cleanly(text: str) -> None:
    try:
        parts = parse_api_token(text)
    except AuthenticationError as exc:
        assert "malformed API token" in exc.message
    else:
        assert text == f"lgt_{parts.token_id}_{parts.secret}"


def test_minted_tokens_round_trip() -> None:
    text, _ = new_api_token("0" * 32)
    assert parse_api_token(text).token_id == "0" * 32


@given(st.text(max_size=20))
@settings(max_examples=300, deadline=None)
def test_any_code_is_refused_unless_it_is_the_right_one(code: str) -> None:
    window = {pyotp.TOTP(SECRET).at(NOW.timestamp() + d): d // 30 for d in (-30, 0, 30)}
    try:
        step = totp.verify_code(SECRET, code, now=NOW, last_step=None)
    except (AuthenticationError, InputError):
        assert code.strip().replace(" ", "") not in window
        return
    assert step == int(NOW.timestamp()) // 30 + window[code.strip().replace(" ", "")]


@pytest.mark.parametrize("code", ["١٢٣٤٥٦", "12345６", "\x80" * 6])
def test_non_ascii_codes_are_input_errors(code: str) -> None:
    with pytest.raises(InputError):
        totp.verify_code(SECRET, code, now=NOW, last_step=None)


def test_code_from_two_steps_ago_is_refused() -> None:
    old = pyotp.TOTP(SECRET).at(NOW.timestamp() - 60)
    with pytest.raises(AuthenticationError, match="wrong authentication code"):
        totp.verify_code(SECRET, old, now=NOW, last_step=None)


@given(st.text(max_size=100))
@settings(max_examples=200, deadline=None)
def test_csrf_accepts_only_the_session_token(presented: str) -> None:
    assert csrf_matches("session-id", presented) == (presented == csrf_token_for("session-id"))


def test_corrupt_stored_password_hash_fails_closed() -> None:
    hasher = PasswordHasher(time_cost=1, memory_kib=8, parallelism=1)
    for stored in ["", "not-a-hash", "$argon2id$v=19$m=8,t=1,p=1$AAAA$BBBB"]:
        with pytest.raises(AuthenticationError):
            hasher.verify(stored, "whatever password")
    assert hasher.needs_rehash("not-a-hash")


def test_password_rules_say_what_is_wrong() -> None:
    rules = PasswordRules(min_length=12)
    with pytest.raises(InputError, match="expected at least 12 characters, got 5"):
        rules.check("short", username="j.doe")
    with pytest.raises(InputError, match="user name"):
        rules.check("j.doe-is-my-password", username="j.doe")
    with pytest.raises(InputError, match="guess"):
        rules.check("aaaaaaaaaaaaaaa", username="j.doe")
    rules.check("correct horse battery staple", username="j.doe")


def test_lockout_doubles_and_caps_at_a_day() -> None:
    policy = LockoutPolicy(threshold=2)
    state = LockoutState()
    locks = []
    for _ in range(12):
        state = policy.after_failure(policy.after_failure(state, now=NOW), now=NOW)
        assert state.locked_until is not None
        locks.append((state.locked_until - NOW).total_seconds() / 60)
    assert locks[:4] == [15, 30, 60, 120]
    assert max(locks) == 24 * 60
