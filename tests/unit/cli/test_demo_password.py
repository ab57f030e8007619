"""The demo's first sign-in draws passwords the plant's rules accept (``acceptable_password``).

A random draw held the user name once in CI ('VpZ60vN_6g9SAmkwI2TZBGjT' for 'sam'), the rules
refused it and the sign-in failed; such a draw is now discarded and another one taken.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lineguard.cli.demo_setup import PASSWORD_DRAWS, DemoSetupError, acceptable_password
from lineguard.server.auth.passwords import PasswordRules


def _draws(*values: str) -> Iterator[str]:
    yield from values


def test_a_draw_the_rules_refuse_is_discarded_for_the_next() -> None:
    rules = PasswordRules(context_words=("plant", "lineguard"))
    draws = _draws("VpZ60vN_6g9SAmkwI2TZBGjT", "xxPlantxx-4kq9Lw2mZ8", "r7Kq2xW9mN4pT6vB")
    password = acceptable_password(lambda p: rules.check(p, username="sam"), draw=lambda: next(draws))
    assert password == "r7Kq2xW9mN4pT6vB"


def test_rules_that_refuse_every_draw_are_a_clear_error_not_a_weaker_password() -> None:
    rules = PasswordRules(min_length=64)
    calls = 0

    def draw() -> str:
        nonlocal calls
        calls += 1
        return "r7Kq2xW9mN4pT6vB"

    with pytest.raises(DemoSetupError, match="no random password passed the password rules"):
        acceptable_password(lambda p: rules.check(p, username="sam"), draw=draw)
    assert calls == PASSWORD_DRAWS


def test_the_default_draw_passes_the_shipped_rules() -> None:
    rules = PasswordRules(context_words=("plant", "lineguard"))
    for username in ("sam", "quinn", "max"):
        password = acceptable_password(lambda p, u=username: rules.check(p, username=u))
        rules.check(password, username=username)
        assert len(password) >= rules.min_length
