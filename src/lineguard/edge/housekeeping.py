"""The node's chores, once a second: status file, disk budget, retention.

* ``status.json`` in the data directory is rewritten atomically every second; it is
  what ``lineguard edge status`` reads (no network needed to ask a node how it is).
* Disk budget: when outbox + evidence exceed ``outbox.disk_budget_mb`` the node keeps
  inspecting and frees space, each second: delivered outbox rows, then the oldest
  undelivered *pass* events, and the oldest *pass* evidence samples. Fail and
  uncertain records are never shed. A ``disk_budget`` alert is raised once per episode.
* Retention: expired evidence is crypto-shredded and old delivered rows pruned, once a
  minute.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from lineguard.contracts.events import AlertKind, AlertSeverity
from lineguard.edge.workers import Worker

if TYPE_CHECKING:
    from lineguard.edge.app import EdgeNode

__all__ = ["Housekeeping"]

log = logging.getLogger(__name__)

SHED_ROWS = 500
SHED_EVIDENCE = 50


class Housekeeping(Worker):
    interval_s = 1.0
    retention_interval_s = 60.0

    def __init__(self, node: EdgeNode) -> None:
        super().__init__("housekeeping", node.stop_event)
        self.node = node
        self.over_budget = False
        self.budget_alerts = 0
        self.nothing_to_shed = False
        self._next_retention = 0.0

    def write_status(self) -> None:
        try:
            self.node.write_status()
        except OSError as exc:
            log.warning("cannot write status file: %s", exc)

    def enforce_budget(self) -> int:
        """Free space if over budget; returns rows/objects freed."""
        budget = self.node.config.outbox.disk_budget_mb * 2**20
        used = self.node.disk_used_bytes()
        if used <= budget:
            if used < budget * 0.9:
                self.over_budget = self.nothing_to_shed = False
            return 0
        if not self.over_budget:
            self.over_budget = True
            self.budget_alerts += 1
            self.node.raise_alert(
                AlertKind.DISK_BUDGET,
                AlertSeverity.CRITICAL,
                f"disk budget reached ({used / 2**20:.1f} of {budget / 2**20:.0f} MiB): "
                "shedding delivered rows and oldest pass events; fail events are kept",
            )
        freed = self.node.outbox.shed(SHED_ROWS) + self.node.evidence.shed_passes(SHED_EVIDENCE)
        if freed == 0 and not self.nothing_to_shed:
            self.nothing_to_shed = True
            log.error("over disk budget with only fail / uncertain records left (%d bytes used)", used)
        return freed

    def step(self) -> None:
        self.enforce_budget()
        now = time.monotonic()
        if now >= self._next_retention:
            self._next_retention = now + self.retention_interval_s
            shredded = self.node.evidence.sweep()
            pruned = self.node.outbox.prune_sent(self.node.config.outbox.keep_sent_hours * 3600)
            if shredded or pruned:
                log.info(
                    "retention: %d evidence objects shredded, %d delivered rows pruned", shredded, pruned
                )
        self.write_status()
        self.stop_event.wait(self.interval_s)
