"""Finding 6 of the 2026-12 security review: unauthenticated requests appended audit rows
without limit (failed sign-ins, rate-limited sign-ins, refused enrolments), each taking
the chain-head lock.

The attack: one source sends a flood of sign-ins with made-up names (or forged
enrolment tokens); before the fix every one became an audit entry. Now each kind of
unauthenticated event is admitted a few times per source per window and at most
``per_window`` times in all; the rest are counted into one ``audit.suppressed`` entry per
kind and window, so the log grows by a bounded amount and no attempt goes uncounted.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lineguard.contracts.audit import AccessDenied, LoginFailed, LoginSucceeded
from lineguard.contracts.errors import AuthenticationError
from lineguard.edge.identity import enroll
from lineguard.server.audit import AuditThrottle
from lineguard.server.context import ServerContext
from tests.unit.server.auth.harness import AuthHarness, running_harness
from tests.unit.server.conftest import Plant

T0 = datetime(2026, 12, 1, 12, 0, 30, tzinfo=UTC)


class _Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def harness(db_url: str, tmp_path: Path) -> Iterator[AuthHarness]:
    with running_harness(db_url, tmp_path / "server") as h:
        yield h


def _fail(source: str) -> LoginFailed:
    return LoginFailed(username="nobody", reason="unknown_user", source_ip=source)


def test_a_sign_in_flood_from_one_source_writes_a_bounded_number_of_entries(harness: AuthHarness) -> None:
    throttle = harness.context.checkpoints.throttle
    throttle.clock = harness.clock
    for i in range(40):
        response = harness.client.post(
            "/api/v1/auth/login", json={"username": f"ghost{i}", "password": "x" * 12}
        )
        assert response.status_code in {401, 429}
    failed = [e["reason"] for e in harness.trail.of("auth.login_failed")]
    assert failed == ["unknown_user"] * throttle.per_source + ["rate_limited"] * throttle.per_source
    harness.clock.advance(seconds=throttle.window_s)
    harness.client.post("/api/v1/auth/login", json={"username": "ghost-next", "password": "x" * 12})
    (summary,) = harness.trail.of("audit.suppressed")
    assert (summary["event"], summary["suppressed"], summary["sources"]) == ("auth.login_failed", 34, 1)


def test_a_forged_enrolment_token_flood_is_throttled(plant: Plant, tmp_path: Path) -> None:
    # The window is pinned: on the wall clock the eight enrolments (TLS + PostgreSQL, slow
    # under load) could straddle a minute boundary, and the new window rightly admits three
    # more (seen in CI at load 15: six entries).
    context = plant.server.server.config.app.state.lineguard
    assert isinstance(context, ServerContext)
    context.checkpoints.throttle.clock = lambda: T0
    prefix, token_id, secret, ca_hash = plant.token("node-z").split(".")
    for i in range(8):
        forged = ".".join([prefix, token_id, f"{i:02d}" + secret[2:], ca_hash])
        with pytest.raises(AuthenticationError, match="unknown enrollment token"):
            enroll(plant.url, forged, tmp_path / f"z{i}")
    assert plant.audit.names().count("access.denied") == 3


def test_many_sources_are_capped_per_window_and_counted() -> None:
    clock = _Clock()
    throttle = AuditThrottle(window_s=60, per_source=2, per_window=10, clock=clock)
    admitted = sum(throttle.admit(_fail(f"10.0.{i // 250}.{i % 250}"), source=f"s{i}") for i in range(500))
    assert admitted == 10
    assert throttle.summaries() == []  # the window is still open
    clock.now += timedelta(seconds=60)
    (summary,) = throttle.summaries()
    assert (summary.event, summary.suppressed, summary.sources) == ("auth.login_failed", 490, 490)
    assert summary.window_end - summary.window_start == timedelta(seconds=60)
    assert throttle.summaries() == []  # handed out once
    assert throttle.admit(_fail("a"), source="s0")  # a new window admits again


def test_successes_always_pass_and_closing_flushes_the_open_window() -> None:
    clock = _Clock()
    throttle = AuditThrottle(window_s=60, per_source=1, per_window=10, clock=clock)
    written: list[tuple[str, str]] = []

    def audit(session: Any, event: Any, /, *, actor: str) -> None:
        written.append((event.event_name, actor))

    hook = throttle.hook(audit, source="10.0.0.9")
    for _ in range(5):
        hook(None, _fail("10.0.0.9"), actor="system:login")
        hook(
            None,
            LoginSucceeded(username="j.doe", method="password", source_ip="10.0.0.9"),
            actor="user:j.doe",
        )
        hook(
            None,
            AccessDenied(action="node.enroll", resource="t", reason="r", source_ip=None),
            actor="system:x",
        )
    assert written.count(("auth.login_succeeded", "user:j.doe")) == 5
    assert written.count(("auth.login_failed", "system:login")) == 1
    assert written.count(("access.denied", "system:x")) == 1
    summaries = throttle.summaries(close=True)
    assert sorted((s.event, s.suppressed) for s in summaries) == [
        ("access.denied", 4),
        ("auth.login_failed", 4),
    ]
