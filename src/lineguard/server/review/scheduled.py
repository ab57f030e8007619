"""The escalator: items nobody acknowledged in time go to a named role.

A worker with an explicit lifecycle, started with the server (``create_app`` finds
:func:`lifespan`): every ``review.sweep_interval_s`` it escalates the items still
``new`` ``review.escalate_after_minutes`` after they were raised, to the role
``review.escalate_to`` (``review.state_changed`` with step ``escalated``, actor
``system:review``). An item a person acknowledges meanwhile is skipped, not overwritten.
With several replicas only the one leading the ``review-escalator`` duty escalates
(``storage.Leadership``), so an item is escalated once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import ReviewConfig
from lineguard.server.context import AuditHook, ServerContext
from lineguard.server.review.workflow import escalate_overdue

__all__ = ["LEADER_DUTY", "Escalator", "lifespan", "run_escalation"]

#: The name under which one replica leads escalation.
LEADER_DUTY = "review-escalator"

log = logging.getLogger(__name__)


def run_escalation(
    sessions: sessionmaker[Session], config: ReviewConfig, *, audit: AuditHook, now: datetime
) -> list[str]:
    """One pass: escalate what is overdue at ``now``; return the review ids escalated."""
    with sessions() as session:
        return escalate_overdue(
            session,
            raised_before=now - timedelta(minutes=config.escalate_after_minutes),
            role=config.escalate_to,
            audit=audit,
            now=now,
        )


class Escalator:
    """setup → run_loop (until ``stop_event``) → teardown, on its own thread."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        config: ReviewConfig,
        *,
        audit: AuditHook,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        leader: Callable[[], bool] = lambda: True,
    ) -> None:
        self.sessions = sessions
        self.leader = leader
        self.config = config
        self.audit = audit
        self.clock = clock
        self.stop_event = threading.Event()
        self.escalated = 0
        self.failures = 0
        self._thread: threading.Thread | None = None

    def run_once(self) -> list[str]:
        done = run_escalation(self.sessions, self.config, audit=self.audit, now=self.clock())
        self.escalated += len(done)
        return done

    def run_loop(self) -> None:
        while not self.stop_event.wait(self.config.sweep_interval_s):
            try:
                if self.leader():  # else another replica escalates
                    self.run_once()
            except Exception:
                self.failures += 1
                log.exception("review escalation failed; next try in %d s", self.config.sweep_interval_s)

    def _main(self) -> None:
        log.info(
            "review escalator: every %d s, items unacknowledged after %d min go to %s",
            self.config.sweep_interval_s,
            self.config.escalate_after_minutes,
            self.config.escalate_to,
        )
        try:
            self.run_loop()
        finally:
            log.info("review escalator stopped")

    def start(self) -> Escalator:
        self._thread = threading.Thread(target=self._main, name="review-escalator", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout_s)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    context: ServerContext = app.state.lineguard
    leadership = context.leadership
    escalator = Escalator(
        context.sessions,
        context.settings.review,
        audit=context.audit,
        leader=lambda: leadership.holds(LEADER_DUTY),
    ).start()
    try:
        yield
    finally:
        escalator.stop()
