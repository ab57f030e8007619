"""Sign-in brakes shared by every replica: the per-address rate and the per-pair lockout.

Two "replicas" here are two engines on the same database (each with its own pool, as two
server processes would have); on PostgreSQL they race for real from several threads.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from lineguard.config.server import AuthConfig
from lineguard.server.auth.lockout import AddressRateLimiter, TooManyAttemptsError, load_lock
from lineguard.server.auth.login import record_failure
from lineguard.server.auth.runtime import AuthRuntime
from lineguard.server.storage import create_engine_for, session_factory, upgrade_to_head
from tests.unit.server.auth.harness import StrictAuditTrail

NOW = datetime(2026, 11, 22, 8, 0, 5, tzinfo=UTC)


def _two_engines(url: str) -> Iterator[tuple[Engine, Engine]]:
    first, second = create_engine_for(url), create_engine_for(url)
    upgrade_to_head(first)
    yield first, second
    first.dispose()
    second.dispose()


@pytest.fixture
def replicas(db_url: str) -> Iterator[tuple[Engine, Engine]]:
    """SQLite: two worker processes of one host; PostgreSQL: two replicas."""
    yield from _two_engines(db_url)


@pytest.fixture
def pg_replicas(postgres_url: str) -> Iterator[tuple[Engine, Engine]]:
    """Replicas need PostgreSQL: SQLite serves one host (its writers race differently, docs/deployment.md)."""
    yield from _two_engines(postgres_url)


def test_rate_window_slides(replicas: tuple[Engine, Engine]) -> None:
    engine, _ = replicas
    limiter = AddressRateLimiter(2)
    limiter.hit(engine, "10.0.0.1", now=NOW)
    limiter.hit(engine, "10.0.0.1", now=NOW + timedelta(seconds=1))
    limiter.hit(engine, "10.0.0.2", now=NOW + timedelta(seconds=1))
    with pytest.raises(TooManyAttemptsError) as info:
        limiter.hit(engine, "10.0.0.1", now=NOW + timedelta(seconds=2))
    assert info.value.retry_after_s == pytest.approx(58.0)
    limiter.hit(engine, "10.0.0.1", now=NOW + timedelta(seconds=60.5))


def test_two_replicas_share_one_address_budget(replicas: tuple[Engine, Engine]) -> None:
    """Attempts spread over two replicas (as a round-robin balancer does) count once, together."""
    limiters = [AddressRateLimiter(5), AddressRateLimiter(5)]

    def attempt(i: int) -> bool:
        try:
            limiters[i % 2].hit(replicas[i % 2], "198.51.100.7", now=NOW + timedelta(milliseconds=i))
        except TooManyAttemptsError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        allowed = list(pool.map(attempt, range(24)))
    assert sum(allowed) == 5
    # The other replica sees the same budget spent.
    with pytest.raises(TooManyAttemptsError):
        limiters[1].hit(replicas[1], "198.51.100.7", now=NOW + timedelta(seconds=1))


def test_concurrent_failures_on_two_replicas_all_count(pg_replicas: tuple[Engine, Engine]) -> None:
    """Wrong passwords for one name from one address, answered by two replicas at once:
    no failure is lost to a read-modify-write race, so the lock comes at the threshold."""
    runtime = AuthRuntime.build("plant-a", AuthConfig(lockout_threshold=20))
    runtime.clock = lambda: NOW
    trail = StrictAuditTrail()
    makers = [session_factory(engine) for engine in pg_replicas]

    def fail(i: int) -> None:
        with makers[i % 2]() as session:
            record_failure(session, runtime=runtime, username="alice", source="192.0.2.4", audit=trail)
            session.commit()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(fail, range(19)))
    with makers[0]() as session:
        assert load_lock(session, account="alice", source="192.0.2.4").failures == 19
    fail(19)  # the twentieth locks the pair
    with makers[1]() as session:
        state = load_lock(session, account="alice", source="192.0.2.4")
    assert state.lockouts == 1
    assert state.locked_until == NOW + timedelta(minutes=15)
    assert trail.names() == ["auth.account_locked"]
