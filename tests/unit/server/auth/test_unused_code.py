"""The e2e tests' authenticator codes (``tests/support/totp_codes.py``) are ones the server takes.

Each case is checked with the server's own rule (:func:`~lineguard.server.auth.totp.verify_code`):
the code belongs to a step after the last accepted one, within the drift, so a test
signing the same person in again is never refused as a replay; and the wait is only as
long as a person's would be.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lineguard.contracts.errors import AuthenticationError
from lineguard.server.auth import totp
from tests.support.totp_codes import unused_code

SECRET = totp.new_secret()
#: The start of a step, plus a few seconds.
START = 60_000_000 * totp.STEP_S + 7.0


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now
        self.slept = 0.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


@pytest.mark.parametrize(
    ("last_offset", "step_offset", "waits"),
    [
        (None, 0, False),  # never signed in with a code: the current one
        (-1, 0, False),  # the last code was of an earlier step: the current one
        (0, 1, False),  # the current step was just used: the next one, at once (drift)
        (1, 2, True),  # a next-step code was just typed: wait for that step, then the one after
    ],
)
def test_the_code_is_taken_by_the_server_and_is_not_a_replay(
    last_offset: int | None, step_offset: int, waits: bool
) -> None:
    clock = FakeClock(START)
    current = int(START) // totp.STEP_S
    last = None if last_offset is None else current + last_offset
    code = unused_code(SECRET, last, clock=clock.time, sleep=clock.sleep)
    at = datetime.fromtimestamp(clock.now, UTC)
    assert totp.verify_code(SECRET, code, now=at, last_step=last) == current + step_offset
    assert (clock.slept > 0) is waits
    assert clock.slept <= totp.STEP_S  # never longer than one step


def test_a_code_of_the_last_accepted_step_would_be_refused() -> None:
    """The control: the server does refuse what the helper avoids."""
    current = int(START) // totp.STEP_S
    replay = unused_code(SECRET, current - 1, clock=lambda: START, sleep=lambda _s: None)
    with pytest.raises(AuthenticationError, match="already used"):
        totp.verify_code(SECRET, replay, now=datetime.fromtimestamp(START, UTC), last_step=current)
