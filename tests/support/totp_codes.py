"""Authenticator codes the server takes, for tests that sign one person in again and again.

Codes are single-use: :func:`lineguard.server.auth.totp.verify_code` refuses a code of
the step it last accepted or an earlier one, and takes the steps one either side of its
own (clock drift). A test signing the same person in several times a minute must
therefore type a code of a step after the last accepted one, within that drift, as a
person told "wait for the next code" would.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pyotp

from lineguard.server.auth import totp

__all__ = ["unused_code"]


def unused_code(
    secret: str,
    last_step: int | None,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """A code for ``secret`` of the earliest step after ``last_step`` the server takes now.

    The current step when it is after ``last_step`` (or nothing was accepted yet); the next
    one when the current step was the last accepted (the server's drift takes it); when
    the last accepted step is still ahead (a next-step code was typed), wait until it is
    the current one, then the step after it.
    """
    while last_step is not None and int(clock()) // totp.STEP_S < last_step:
        sleep(0.5)
    current = int(clock()) // totp.STEP_S
    step = current if last_step is None or current > last_step else last_step + 1
    return pyotp.TOTP(secret, interval=totp.STEP_S).at(step * totp.STEP_S)
