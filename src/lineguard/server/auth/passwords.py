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
import functools
import gzip
from dataclasses import dataclass
from importlib import resources

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from lineguard.contracts.errors import AuthenticationError, InputError

__all__ = ["PasswordHasher", "PasswordRules", "common_passwords"]

_COMMON_LIST = "data/common-passwords.txt.gz"
#: Shortest context word checked: shorter ones ("qa") would refuse too much by accident.
_MIN_CONTEXT_WORD = 4


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common and breached passwords (lower case), read once, offline."""
    raw = resources.files("lineguard.server.auth").joinpath(_COMMON_LIST).read_bytes()
    lines = gzip.decompress(raw).decode("utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def _base_word(lowered: str) -> str:
    """The password without the digits and symbols people pad a common word with."""
    return lowered.strip("0123456789!@#$%^&*()-_=+.,;:?~ ")


@dataclass(frozen=True, slots=True)
class PasswordRules:
    """NIST SP 800-63B §3.1.1.2: length, a blocklist and context words; no composition rules.

    Refused: shorter than ``min_length`` (≥ 12) or longer than ``max_length``; on the
    shipped list of common and breached passwords (:func:`common_passwords`), also once
    the digits and symbols padded around it are removed (``password12345``); fewer
    than 4 distinct characters; containing the user name or a context word (the site
    id, ``lineguard``). Nothing else: no required digits, cases or symbols.
    """

    min_length: int = 12
    max_length: int = 256
    context_words: tuple[str, ...] = ("lineguard",)

    def check(self, password: str, *, username: str) -> None:
        if len(password) < self.min_length:
            msg = f"password too short: expected at least {self.min_length} characters, got {len(password)}"
            raise InputError(msg)
        if len(password) > self.max_length:
            msg = f"password too long: expected at most {self.max_length} characters, got {len(password)}"
            raise InputError(msg)
        lowered = password.lower()
        common = common_passwords()
        if lowered in common or _base_word(lowered) in common:
            msg = "password is on the list of common or breached passwords: choose a longer passphrase"
            raise InputError(msg)
        if len(set(password)) < 4:
            msg = "password too easy to guess: use a longer passphrase"
            raise InputError(msg)
        if username and username.lower() in lowered:
            msg = "password must not contain the user name"
            raise InputError(msg)
        for word in self.context_words:
            if len(word) >= _MIN_CONTEXT_WORD and word.lower() in lowered:
                msg = f"password must not contain the name of this site or service ({word!r})"
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
