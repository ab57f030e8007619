"""Bound what unauthenticated requests can write to the audit log.

Failed sign-ins and refused enrolments come from anyone who can reach the server. Each
audit entry takes the chain-head lock and stays for years, so unbounded, they let an
attacker grow the log and slow every writer. :class:`AuditThrottle` admits, per fixed
window (``window_s``), the first ``per_source`` events of each kind (event name and
reason) from each source address and at most ``per_window`` throttled events in all;
the rest are only counted.
When a window has ended, one ``audit.suppressed`` entry per event kind records how many
were left out and from how many sources (:meth:`AuditThrottle.summaries`), written by
the next throttled call or by the audit domain's periodic flush, whichever comes first.

So per window the log grows by at most ``per_window`` entries plus one per event kind,
whatever the attacker sends, and nothing is lost silently: every suppressed event is
in a count. Memory is bounded too (at most ``max_sources`` distinct sources remembered
per window; beyond it they are counted, not told apart).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from lineguard.contracts.audit import AuditEvent, AuditSuppressed
from lineguard.server.storage import utcnow

__all__ = ["THROTTLE_ACTOR", "AuditThrottle"]

THROTTLE_ACTOR = "system:audit-throttle"
#: Attacker-triggerable although not a failure: a lock on a name anyone may type.
_ALSO_THROTTLED = frozenset({"auth.account_locked"})


class AuditThrottle:
    """Per-window admission of unauthenticated audit events; thread-safe."""

    def __init__(
        self,
        *,
        window_s: float = 60.0,
        per_source: int = 3,
        per_window: int = 300,
        max_sources: int = 10_000,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.window_s, self.per_source, self.per_window = window_s, per_source, per_window
        self.max_sources = max_sources
        self.clock = clock
        self._lock = threading.Lock()
        self._window: int | None = None
        self._admitted = 0
        self._per_key: dict[tuple[str, str], int] = {}
        self._suppressed: dict[str, int] = {}
        self._sources: dict[str, set[str]] = {}
        self._ready: list[AuditSuppressed] = []

    def _index(self, now: datetime) -> int:
        return int(now.timestamp() // self.window_s)

    def _roll(self, now: datetime, *, force: bool = False) -> None:
        """Close the current window if ``now`` is past it, or now if ``force`` (lock held)."""
        index = self._index(now)
        if self._window is None:
            self._window = index
        if index == self._window and not force:
            return
        start = datetime.fromtimestamp(self._window * self.window_s, UTC)
        for name, count in sorted(self._suppressed.items()):
            self._ready.append(
                AuditSuppressed(
                    event=name,
                    suppressed=count,
                    sources=len(self._sources.get(name, ())),
                    window_start=start,
                    window_end=start + timedelta(seconds=self.window_s),
                )
            )
        self._window, self._admitted = index, 0
        self._per_key.clear()
        self._suppressed.clear()
        self._sources.clear()

    def admit(self, event: AuditEvent, *, source: str | None) -> bool:
        """True: write ``event`` now; False: it was counted towards this window's summary."""
        # Each reason has its own allowance (a flood of unknown names must not hide the
        # first rate-limited or locked attempt); the window's total cap bounds them all.
        reason = getattr(event, "reason", None)
        kind = event.event_name if reason is None else f"{event.event_name}:{str(reason)[:40]}"
        key = (kind, source or "unknown")
        with self._lock:
            self._roll(self.clock())
            seen = self._per_key.get(key, 0)
            if seen < self.per_source and self._admitted < self.per_window:
                if len(self._per_key) < self.max_sources or key in self._per_key:
                    self._per_key[key] = seen + 1
                self._admitted += 1
                return True
            name = event.event_name
            self._suppressed[name] = self._suppressed.get(name, 0) + 1
            sources = self._sources.setdefault(name, set())
            if len(sources) < self.max_sources:
                sources.add(key[1])
            return False

    def summaries(self, *, close: bool = False) -> list[AuditSuppressed]:
        """The ``audit.suppressed`` events of windows that have ended, each handed out once.

        ``close`` ends the current window early (at shutdown, so no count is lost).
        """
        with self._lock:
            self._roll(self.clock(), force=close)
            ready, self._ready = self._ready, []
            return ready

    def hook(self, audit: Any, *, source: str | None) -> Any:
        """``audit`` (an ``AuditHook``) for one unauthenticated request from ``source``.

        Failures, denials and account locks go through :meth:`admit`; successes always
        pass. Summaries of ended windows are written first, in the same transaction.
        """

        def throttled(session: Session, event: AuditEvent, /, *, actor: str) -> None:
            for summary in self.summaries():
                audit(session, summary, actor=THROTTLE_ACTOR)
            limited = event.outcome != "success" or event.event_name in _ALSO_THROTTLED
            if not limited or self.admit(event, source=source):
                audit(session, event, actor=actor)

        return throttled

    def __repr__(self) -> str:
        limits = f"window_s={self.window_s}, per_source={self.per_source}, per_window={self.per_window}"
        return f"AuditThrottle({limits})"
