"""Password hashing (argon2id) and the password rules.

Hashes are argon2id with the cost from ``server.yaml`` (``auth.argon2_*``; the default
is RFC 9106's second recommendation, ~170 ms here). A hash made with older, cheaper
parameters is upgraded transparently at the next successful sign-in
(:meth:`PasswordHasher.needs_rehash`). Verifying against an unknown user still spends
one hash (:meth:`PasswordHasher.burn`), so response time does not reveal which user
names exist.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from lineguard.contracts.errors import AuthenticationError, InputError

__all__ = ["PasswordHasher", "PasswordRules"]

#: A few passwords every cracking list starts with; length rules catch most others.
_COMMON = frozenset(
    {
        "password1234",
        "passwort1234",
        "123456789012",
        "qwertyuiop12",
        "administrator",
        "lineguard123",
        "changeme1234",
        "letmein12345",
        "welcome12345",
    }
)


@dataclass(frozen=True, slots=True)
class PasswordRules:
    """Length over composition (NIST SP 800-63B): long, not trivial, not the user name."""

    min_length: int = 12
    max_length: int = 256

    def check(self, password: str, *, username: str) -> None:
        if len(password) < self.min_length:
            msg = f"password too short: expected at least {self.min_length} characters, got {len(password)}"
            raise InputError(msg)
        if len(password) > self.max_length:
            msg = f"password too long: expected at most {self.max_length} characters, got {len(password)}"
            raise InputError(msg)
        lowered = password.lower()
        if lowered in _COMMON or len(set(password)) < 4:
            msg = "password too easy to guess: use a longer passphrase"
            raise InputError(msg)
        if username and username.lower() in lowered:
            msg = "password must not contain the user name"
            raise InputError(msg)


class PasswordHasher:
    """argon2id hashing with configurable cost."""

    def __init__(self, *, time_cost: int = 3, memory_kib: int = 65_536, parallelism: int = 4) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        self._dummy = self._hasher.hash("lineguard-timing-equaliser")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str, password: str) -> None:
        """Raise :class:`AuthenticationError` unless ``password`` matches ``stored_hash``."""
        try:
            self._hasher.verify(stored_hash, password)
        except VerifyMismatchError:
            msg = "wrong user name or password"
            raise AuthenticationError(msg) from None
        except (VerificationError, InvalidHashError):
            # A stored hash we cannot read: treat as a failed sign-in, never as a pass.
            msg = "wrong user name or password"
            raise AuthenticationError(msg) from None

    def needs_rehash(self, stored_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    def burn(self, password: str) -> None:
        """Spend one verification on a dummy hash (unknown user: same timing as a real one)."""
        with contextlib.suppress(VerificationError, InvalidHashError):
            self._hasher.verify(self._dummy, password)
