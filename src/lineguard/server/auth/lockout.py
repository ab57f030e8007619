"""Brute-force defence: lockout per (account name, source address) and per-address rate limiting.

Two independent brakes. An **account name tried from one source address** that collects
``threshold`` consecutive failures (wrong password or wrong code) is locked *for that
source* for ``base``, doubling with each further lockout up to a day; a success from
that source resets it entirely, and an administrator can unlock an account (audited).
Keyed by the name as typed (:func:`account_key`), known or not, so an unknown name
locks, answers and costs exactly like a real one: neither the status code nor the time
tells which names exist. Locking per source means an attacker elsewhere cannot keep a
person locked out. The state lives in ``auth_login_locks``, so it holds across restarts
and workers. A **source address** may try at most ``per_minute`` sign-ins per minute
whatever the account (sliding window): that slows a spray of one password over many
accounts, which lockout cannot see. Both are kept in the database (``auth_login_locks``,
``auth_signin_attempts``) and updated under a per-key ``storage.transaction_lock``, so
every worker and every replica counts the same attempts: two replicas behind a load
balancer neither double an attacker's budget nor lose a failure to a concurrent one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Connection, Engine, Table, delete, func, insert, select
from sqlalchemy.orm import Session

from lineguard.contracts.errors import RateLimitedError
from lineguard.server.auth.models import LoginLock, SignInAttempt
from lineguard.server.storage import transaction_lock

__all__ = [
    "AddressRateLimiter",
    "Attempt",
    "LockoutPolicy",
    "LockoutState",
    "TooManyAttemptsError",
    "account_key",
    "clear_locks",
    "load_lock",
    "locked_until",
    "save_lock",
]

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
        # Everything resets: the lock is per source, so a success proves this source
        # knows the password (and TOTP); an attacker elsewhere keeps their own count.
        return LockoutState()


def account_key(username: str) -> str:
    """What a lock is keyed by: the name as typed, lower-cased, known or not."""
    return username.strip().lower()[:64] or "-"


def _source_key(source: str | None) -> str:
    return (source or "unknown")[:64]


def load_lock(
    session: Session, *, account: str, source: str | None, for_update: bool = False
) -> LockoutState:
    """The pair's state; ``for_update``: hold it until the transaction ends (a failure to count)."""
    if for_update:
        transaction_lock(session, f"signin-lock:{account}:{_source_key(source)}")
    row = session.get(LoginLock, (account, _source_key(source)))
    if row is None:
        return LockoutState()
    return LockoutState(row.failures, row.lockouts, row.locked_until)


def save_lock(
    session: Session, *, account: str, source: str | None, state: LockoutState, now: datetime
) -> None:
    """Store ``state`` (a reset state deletes the row)."""
    key = (account, _source_key(source))
    row = session.get(LoginLock, key)
    if state == LockoutState():
        if row is not None:
            session.delete(row)
        return
    if row is None:
        row = LoginLock(account=key[0], source=key[1])
        session.add(row)
    row.failures, row.lockouts, row.locked_until = state.failures, state.lockouts, state.locked_until
    row.updated_at = now


def clear_locks(session: Session, *, account: str) -> int:
    """An administrator's unlock: forget every source's failures for ``account``; how many rows."""
    result = session.execute(delete(LoginLock).where(LoginLock.account == account))
    return int(getattr(result, "rowcount", 0) or 0)


def locked_until(session: Session, *, account: str, now: datetime) -> datetime | None:
    """The latest lock on ``account`` from any source that is still running, if any."""
    until: datetime | None = session.scalar(
        select(func.max(LoginLock.locked_until)).where(LoginLock.account == account)
    )
    return until if until is not None and until > now else None


class AddressRateLimiter:
    """At most ``per_minute`` attempts per source address in any sliding window (60 s by default).

    Counted in ``auth_signin_attempts`` in a short transaction of its own (committed
    before the password is even checked, so a failing request still counts), under a
    per-address lock so two replicas cannot both let the last allowed attempt through.
    A refused attempt is not recorded: the window frees up a minute after the allowed ones.

    ``table`` (any table with ``source`` and ``attempted_at`` columns, like
    ``auth_signin_attempts``) and ``window`` let another service count its own attempts
    with the same rule: the enterprise roll-up counts only *failed* token checks in its
    own database, with :meth:`attempt`: the limit check, the credential check and the
    failure's record in one transaction under the address's lock, so simultaneous wrong
    guesses cannot each pass the check before any of them is counted.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        table: Table | None = None,
        window: timedelta = timedelta(seconds=60),
        what: str = "sign-in attempts",
    ) -> None:
        self.per_minute = per_minute
        self.window = window
        self._table: Table = table if table is not None else cast(Table, SignInAttempt.__table__)
        self._what = what

    def hit(self, bind: Engine | Connection, address: str, *, now: datetime) -> None:
        """Count one attempt from ``address``; raise :class:`TooManyAttemptsError` over the limit."""
        with _engine(bind).begin() as connection:
            self._ensure_under(connection, address, now)
            connection.execute(insert(self._table).values(source=_source_key(address), attempted_at=now))

    @contextmanager
    def attempt(self, bind: Engine | Connection, address: str, *, now: datetime) -> Iterator[Attempt]:
        """One attempt from ``address`` whose outcome counts only if it fails, atomically.

        Raises :class:`TooManyAttemptsError` if ``address`` is at the limit. Otherwise the
        block runs inside the transaction that checked, still holding the address's lock
        (PostgreSQL: an advisory lock; SQLite: the write lock the window's clean-up took),
        and :meth:`Attempt.fail` counts the failure there: the next attempt from the address
        waits until this one is decided and counted. Check the credential inside the block
        (on :attr:`Attempt.connection` or not) and catch its error there: an exception
        leaving the block rolls the transaction back, failure count included.
        """
        with _engine(bind).begin() as connection:
            self._ensure_under(connection, address, now)
            yield Attempt(self, connection, _source_key(address), now)

    def _recent(
        self, connection: Connection, source: str, now: datetime, *, limit: int | None
    ) -> list[datetime]:
        at, window_start = self._table.c.attempted_at, now - self.window
        connection.execute(delete(self._table).where(at <= window_start))
        query = select(at).where(self._table.c.source == source, at > window_start).order_by(at)
        return list(connection.scalars(query if limit is None else query.limit(limit)).all())

    def _ensure_under(self, connection: Connection, address: str, now: datetime) -> None:
        source = _source_key(address)
        transaction_lock(connection, f"signin-rate:{source}")
        recent = self._recent(connection, source, now, limit=self.per_minute)
        if len(recent) >= self.per_minute:
            seconds = int(self.window.total_seconds())
            per = "minute" if seconds == 60 else f"{seconds} s"
            msg = f"too many {self._what} from {address}: at most {self.per_minute} per {per}"
            wait = self.window.total_seconds() - (now - _aware(recent[0], now)).total_seconds()
            raise TooManyAttemptsError(msg, retry_after_s=max(wait, 0.001))


class Attempt:
    """One attempt under its address's lock (:meth:`AddressRateLimiter.attempt`)."""

    def __init__(
        self, limiter: AddressRateLimiter, connection: Connection, source: str, now: datetime
    ) -> None:
        self.connection = connection
        self._limiter = limiter
        self._source = source
        self._now = now

    def fail(self) -> int:
        """Count this attempt as failed; how many failures the address now has in the window."""
        table = self._limiter._table
        self.connection.execute(insert(table).values(source=self._source, attempted_at=self._now))
        return len(self._limiter._recent(self.connection, self._source, self._now, limit=None))


def _engine(bind: Engine | Connection) -> Engine:
    return bind if isinstance(bind, Engine) else bind.engine


def _aware(moment: datetime, like: datetime) -> datetime:
    """Core rows of a ``UtcDateTime`` column come back aware; a naive one is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=like.tzinfo)
