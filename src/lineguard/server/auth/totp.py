"""Time-based one-time passwords (RFC 6238) with replay protection.

A code is accepted for its 30-second step and one step either side (clock drift), and
only once: the step of the last accepted code is stored and any code of that step or
an earlier one is refused, so a code seen over a shoulder or in a proxy log is useless.
Secrets are 160 random bits (base32), shown once at enrollment as an ``otpauth://`` URI.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

import pyotp

from lineguard.contracts.errors import AuthenticationError, InputError

__all__ = ["STEP_S", "TotpEnrollment", "new_secret", "provisioning_uri", "verify_code"]

STEP_S = 30
_DRIFT_STEPS = 1
_ISSUER = "LineGuard"


@dataclass(frozen=True, slots=True)
class TotpEnrollment:
    secret: str
    uri: str


def new_secret() -> str:
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, *, username: str, site: str) -> str:
    return pyotp.TOTP(secret, interval=STEP_S).provisioning_uri(
        name=username, issuer_name=f"{_ISSUER} {site}"
    )


def verify_code(secret: str, code: str, *, now: datetime, last_step: int | None) -> int:
    """Return the time step ``code`` belongs to; raise when wrong, malformed or replayed."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not (code.isascii() and code.isdigit()):
        msg = f"authentication code must be 6 digits, got {len(code)} characters"
        raise InputError(msg)
    totp = pyotp.TOTP(secret, interval=STEP_S)
    current = int(now.timestamp()) // STEP_S
    for step in range(current - _DRIFT_STEPS, current + _DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(step * STEP_S), code):
            if last_step is not None and step <= last_step:
                msg = "authentication code already used: wait for the next code"
                raise AuthenticationError(msg)
            return step
    msg = "wrong authentication code"
    raise AuthenticationError(msg)
