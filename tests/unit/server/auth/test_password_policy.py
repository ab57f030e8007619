"""Finding 5 of the 2026-12 security review: weak passwords were accepted (``password12345``).

NIST SP 800-63B: at least 12 characters, checked offline against a shipped list of
common and breached passwords (also with the digits and symbols padded around a
common word removed), no user name or site name, no composition rules. The API
attack is the reviewer's: a person changes their own password to ``password12345``.
"""

from __future__ import annotations

import gzip
from importlib import resources

import pytest

from lineguard.contracts.errors import InputError
from lineguard.server.auth.catalog import Role
from lineguard.server.auth.dependencies import CSRF_HEADER
from lineguard.server.auth.passwords import PasswordRules, common_passwords
from tests.unit.server.auth.harness import AuthHarness

RULES = PasswordRules(min_length=12, context_words=("plant-7", "lineguard"))


def _change(harness: AuthHarness, new: str) -> tuple[int, str]:
    person = harness.add_person("w.eak", [Role.MAINTENANCE_TECHNICIAN], mfa=False, one_time=True)
    body = harness.login(person).json()
    response = harness.client.post(
        "/api/v1/auth/password",
        json={"current_password": person.password, "new_password": new},
        headers={CSRF_HEADER: body["csrf_token"]},
    )
    return response.status_code, response.json().get("message", "")


def test_the_reviewers_weak_password_is_refused_through_the_api(harness: AuthHarness) -> None:
    status, message = _change(harness, "password12345")
    assert status == 400
    assert "common or breached" in message
    assert "auth.password_changed" not in harness.trail.names()


@pytest.mark.parametrize(
    "password",
    ["password12345", "Password12345!", "qwertyuiop123", "iloveyou12345", "123456789012", "PASSWORD1234"],
)
def test_common_passwords_and_padded_common_words_are_refused(password: str) -> None:
    with pytest.raises(InputError, match="common or breached"):
        RULES.check(password, username="j.doe")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("my plant-7 password!", "name of this site"),
        ("LineGuard rocks so much", "name of this site"),
        ("j.doe forever and ever", "user name"),
        ("short pass", "at least 12"),
    ],
)
def test_context_words_and_length_are_refused_with_the_reason(password: str, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        RULES.check(password, username="j.doe")


@pytest.mark.parametrize(
    "password", ["correct horse battery staple", "all lowercase letters only", "zq8-vv1-pp0-kk"]
)
def test_no_composition_rules(password: str) -> None:
    RULES.check(password, username="j.doe")


def test_the_list_ships_in_the_package_and_is_read_offline() -> None:
    raw = resources.files("lineguard.server.auth").joinpath("data/common-passwords.txt.gz").read_bytes()
    lines = [line for line in gzip.decompress(raw).decode().splitlines() if not line.startswith("#")]
    assert len(lines) >= 10_000
    assert common_passwords() == frozenset(lines)
    assert all(line == line.lower() for line in lines)
