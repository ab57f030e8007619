"""The node's chores, once a second: status file, disk budget, camera watch, retention.

* ``status.json`` in the data directory is rewritten atomically every second; it is
  what ``lineguard edge status`` reads (no network needed to ask a node how it is).
* Disk budget: when outbox + evidence exceed ``outbox.disk_budget_mb`` the node keeps
  inspecting and frees space, each second: delivered outbox rows, then the oldest
  undelivered *pass* events, and the oldest *pass* evidence samples. Fail and
  uncertain records are never shed. A ``disk_budget`` alert is raised once per episode.
* Cameras: a ``camera_offline`` alert when a camera has been reconnecting or failed for
  ``offline_alert_after_s``, a ``pipeline_overload`` alert when it drops over a fifth of
  its frames within ``overload_window_s``; each once per episode.
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
    offline_alert_after_s = 30.0
    overload_window_s = 10.0

    def __init__(self, node: EdgeNode) -> None:
        super().__init__("housekeeping", node.stop_event)
        self.node = node
        self.over_budget = False
        self.budget_alerts = 0
        self.nothing_to_shed = False
        self._next_retention = 0.0
        self._offline_since: dict[str, float] = {}
        self._offline_alerted: set[str] = set()
        self._load: dict[str, tuple[int, int]] = {}
        self._overloaded: set[str] = set()
        self._next_overload_check = 0.0

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

    def watch_cameras(self, now: float | None = None) -> None:
        """One ``camera_offline`` alert per outage longer than ``offline_alert_after_s``, and one
        ``pipeline_overload`` alert per episode in which a camera drops over a fifth of its frames.
        """
        t = time.monotonic() if now is None else now
        for camera_id, stats in self.node.stats.items():
            if stats.state in ("reconnecting", "failed"):
                since = self._offline_since.setdefault(camera_id, t)
                if t - since >= self.offline_alert_after_s and camera_id not in self._offline_alerted:
                    self._offline_alerted.add(camera_id)
                    self.node.raise_alert(
                        AlertKind.CAMERA_OFFLINE,
                        AlertSeverity.CRITICAL,
                        f"camera {camera_id} is {stats.state} for {t - since:.0f}s: "
                        f"{stats.last_error or 'no frames'}",
                        camera_id=camera_id,
                    )
            else:
                self._offline_since.pop(camera_id, None)
                self._offline_alerted.discard(camera_id)
            if t < self._next_overload_check:
                continue
            inspected, dropped = stats.frames_inspected, stats.frames_dropped
            last_inspected, last_dropped = self._load.get(camera_id, (inspected, dropped))
            self._load[camera_id] = (inspected, dropped)
            new_drops, new_frames = dropped - last_dropped, inspected - last_inspected
            overloaded = new_drops > 0.2 * max(new_frames + new_drops, 1)
            if overloaded and camera_id not in self._overloaded:
                self._overloaded.add(camera_id)
                self.node.raise_alert(
                    AlertKind.PIPELINE_OVERLOAD,
                    AlertSeverity.WARNING,
                    f"camera {camera_id}: {new_drops} of {new_frames + new_drops} frames dropped in the last "
                    f"{self.overload_window_s:.0f}s (inspection slower than the camera)",
                    camera_id=camera_id,
                )
            elif not overloaded:
                self._overloaded.discard(camera_id)
        if t >= self._next_overload_check:
            self._next_overload_check = t + self.overload_window_s

    def step(self) -> None:
        self.enforce_budget()
        self.watch_cameras()
        now = time.monotonic()
        if now >= self._next_retention:
            self._next_retention = now + self.retention_interval_s
            shredded = self.node.evidence.sweep()
            pruned = self.node.outbox.prune_sent(self.node.config.outbox.keep_sent_hours * 3600)
            self.node.outbox.release_free_pages()
            if shredded or pruned:
                log.info(
                    "retention: %d evidence objects shredded, %d delivered rows pruned", shredded, pruned
                )
        self.write_status()
        self.stop_event.wait(self.interval_s)
