"""Refused connections to the internal relay: counted in memory, audited once per source a window.

Anyone who can reach a replica's relay port can make it refuse connections (a failed TLS
handshake costs them nothing), so one audit entry per refusal would let them fill the
log and slow every writer on the chain-head lock. :class:`RefusalLedger` counts refusals
per (source address, reason) and hands out at most one ``replica.relay_refused`` entry per
key per window (``window_s``, 60 s by default) with the count since the last one: the
first refusal from a source is reported at the next flush (a few seconds), a flood from
it once a minute. Memory is bounded: beyond ``max_sources`` keys in play, new sources are
counted under ``other``. Nothing is written on the accept path; the relay's purge loop
writes what :meth:`RefusalLedger.due` returns (``scheduled.py``), and the doctor reads the
entries back (``governance.checks_network``).

:attr:`RefusalLedger.totals` counts every refusal since the process started, by reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from lineguard.contracts.audit import RelayConnectionsRefused
from lineguard.server.evidence_views.peers import RefusalReason

__all__ = ["OTHER_SOURCES", "REFUSALS_ACTOR", "RefusalLedger"]

#: The audit actor of the refusal entries.
REFUSALS_ACTOR = "system:evidence-relay"
#: The source under which refusals are counted once ``max_sources`` keys are in play.
OTHER_SOURCES = "other"


@dataclass
class _Tally:
    count: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    presented: str = ""
    #: When its last entry was handed out (monotonic), None before the first.
    reported_at: float | None = None


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RefusalLedger:
    """Per-(source, reason) counts of refused relay connections; thread-safe."""

    def __init__(
        self,
        replica_id: str,
        *,
        window_s: float = 60.0,
        max_sources: int = 256,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.replica_id = replica_id
        self.window_s, self.max_sources = window_s, max_sources
        self.clock, self.now = clock, now
        self._lock = threading.Lock()
        self._tallies: dict[tuple[str, RefusalReason], _Tally] = {}
        #: Every refusal since start, by reason (what an operator's metric would read).
        self.totals: dict[RefusalReason, int] = {}

    def note(self, source: str, reason: RefusalReason, presented: str) -> None:
        """Count one refused connection (cheap: called on the event loop, never writes)."""
        now = self.now()
        with self._lock:
            self.totals[reason] = self.totals.get(reason, 0) + 1
            key = (source, reason)
            if key not in self._tallies and len(self._tallies) >= self.max_sources:
                key = (OTHER_SOURCES, reason)
            tally = self._tallies.setdefault(key, _Tally())
            tally.count += 1
            tally.first_at = tally.first_at or now
            tally.last_at, tally.presented = now, presented[:500]

    def due(self, *, close: bool = False) -> list[RelayConnectionsRefused]:
        """The entries to write now: each key with refusals whose last entry is a window old.

        ``close`` hands out every count (at shutdown, so none is lost). Keys with nothing
        new for a whole window are forgotten.
        """
        mono = self.clock()
        ready = []
        with self._lock:
            for key, tally in list(self._tallies.items()):
                quiet = tally.reported_at is not None and mono - tally.reported_at < self.window_s
                if tally.count == 0:
                    if not quiet:
                        del self._tallies[key]
                    continue
                if quiet and not close:
                    continue
                assert tally.first_at is not None and tally.last_at is not None  # noqa: S101 - set with count
                ready.append(
                    RelayConnectionsRefused(
                        replica_id=self.replica_id,
                        source_ip=key[0],
                        reason=key[1],
                        presented=tally.presented or "-",
                        count=tally.count,
                        first_at=tally.first_at,
                        last_at=tally.last_at,
                    )
                )
                self._tallies[key] = _Tally(reported_at=mono)
        return ready
