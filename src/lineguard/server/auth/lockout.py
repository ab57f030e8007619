"""Brute-force defence: per-account lockout and per-address rate limiting.

Two independent brakes. An **account** that collects ``threshold`` consecutive failures
(wrong password or wrong code) is locked for ``base``, doubling with each further lockout
up to a day; a success resets the count. The state lives on the user row, so it holds
across restarts and workers. A **source address** may try at most ``per_minute`` sign-ins
per minute whatever the account (sliding window, in memory, per process): that slows a
spray of one password over many accounts, which per-account lockout cannot see.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from lineguard.contracts.errors import RateLimitedError

__all__ = ["AddressRateLimiter", "LockoutPolicy", "LockoutState", "TooManyAttemptsError"]

_MAX_LOCK = timedelta(days=1)


class TooManyAttemptsError(RateLimitedError):
    """Sign-in refused (account locked, or address over its rate); ``retry_after_s`` says how long."""

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class LockoutState:
    failures: int = 0
    lockouts: int = 0
    locked_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    threshold: int = 5
    base: timedelta = timedelta(minutes=15)

    def ensure_unlocked(self, state: LockoutState, *, now: datetime) -> None:
        if state.locked_until is not None and now < state.locked_until:
            wait = (state.locked_until - now).total_seconds()
            msg = (
                f"account locked after repeated failed sign-ins: try again in {int(wait // 60) + 1} minute(s)"
            )
            raise TooManyAttemptsError(msg, retry_after_s=wait)

    def after_failure(self, state: LockoutState, *, now: datetime) -> LockoutState:
        failures = state.failures + 1
        if failures < self.threshold:
            return LockoutState(failures, state.lockouts, state.locked_until)
        lock = min(self.base * (2**state.lockouts), _MAX_LOCK)
        return LockoutState(failures=0, lockouts=state.lockouts + 1, locked_until=now + lock)

    def after_success(self, state: LockoutState) -> LockoutState:
        # Keep the lockout count: an attacker who guesses right once between lockouts
        # should not reset the doubling for the next run.
        return LockoutState(failures=0, lockouts=state.lockouts, locked_until=None)


class AddressRateLimiter:
    """At most ``per_minute`` attempts per source address in any 60-second window."""

    def __init__(self, per_minute: int, *, max_addresses: int = 100_000) -> None:
        self.per_minute = per_minute
        self._max_addresses = max_addresses
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, address: str, *, now_s: float) -> None:
        """Count one attempt from ``address``; raise :class:`RateLimitedError` over the limit."""
        with self._lock:
            window = self._seen.get(address)
            if window is None:
                if len(self._seen) >= self._max_addresses:
                    self._seen.clear()  # bounded memory under an address-spraying flood
                window = self._seen.setdefault(address, deque())
            while window and window[0] <= now_s - 60:
                window.popleft()
            if len(window) >= self.per_minute:
                msg = f"too many sign-in attempts from {address}: at most {self.per_minute} per minute"
                raise TooManyAttemptsError(msg, retry_after_s=60 - (now_s - window[0]))
            window.append(now_s)
