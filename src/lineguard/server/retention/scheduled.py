"""The retention sweeper as a worker with an explicit lifecycle, started with the server.

``create_app`` finds :func:`lifespan` here and runs it for the app's lifetime: the
sweeper thread sleeps ``retention.sweep_interval_s``, sweeps, and repeats until the
server stops (a sweep in progress finishes its current batch first). The first sweep
comes one interval after start, so a restart loop cannot turn into a deletion loop.
With several replicas one of them sweeps: each round runs only where ``leader()`` says
this process leads the ``retention-sweeper`` duty (``storage.Leadership``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from lineguard.config.server import RetentionConfig
from lineguard.server.retention.service import SweepResult, run_sweep

__all__ = ["LEADER_DUTY", "Sweeper", "lifespan", "start_sweeper"]

#: The name under which one replica leads the sweeps.
LEADER_DUTY = "retention-sweeper"

log = logging.getLogger(__name__)


class Sweeper:
    """setup → run_loop (until ``stop_event``) → teardown, on its own thread."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        config: RetentionConfig,
        *,
        interval_s: float | None = None,
        leader: Callable[[], bool] = lambda: True,
    ):
        self.sessions = sessions
        self.leader = leader
        self.config = config
        self.interval_s = float(interval_s if interval_s is not None else config.sweep_interval_s)
        self.stop_event = threading.Event()
        self.last_result: SweepResult | None = None
        self.failures = 0
        self._thread: threading.Thread | None = None

    def setup(self) -> None:
        log.info("retention sweeper: every %.0f s", self.interval_s)

    def run_loop(self) -> None:
        while not self.stop_event.wait(self.interval_s):
            try:
                if not self.leader():
                    continue  # another replica sweeps
                self.last_result = run_sweep(self.sessions, self.config)
            except Exception:
                self.failures += 1
                log.exception(
                    "retention sweep failed (recorded as failed); next try in %.0f s", self.interval_s
                )

    def teardown(self) -> None:
        log.info("retention sweeper stopped")

    def _main(self) -> None:
        self.setup()
        try:
            self.run_loop()
        finally:
            self.teardown()

    def start(self) -> Sweeper:
        self._thread = threading.Thread(target=self._main, name="retention-sweeper", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout_s)


def start_sweeper(
    sessions: sessionmaker[Session],
    config: RetentionConfig,
    *,
    interval_s: float | None = None,
    leader: Callable[[], bool] = lambda: True,
) -> Sweeper:
    """Start the periodic sweeper; call ``stop()`` on shutdown."""
    return Sweeper(sessions, config, interval_s=interval_s, leader=leader).start()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    context = app.state.lineguard
    leadership = context.leadership
    sweeper = start_sweeper(
        context.sessions, context.settings.retention, leader=lambda: leadership.holds(LEADER_DUTY)
    )
    try:
        yield
    finally:
        sweeper.stop()
