"""Hourly tallies per zone, and the only messages that leave: :class:`~lineguard.contracts.ppe.PpeCounts`.

A tally is three kinds of integer per (zone, hour): frames looked at, people seen, and per
required item how many lacked it. Nothing else is kept — no box, no time finer than the
hour, nothing that tells one sighting from another. When an hour is over (a frame of a
later hour arrives, or the camera stops) its tallies become one message per zone, with
every count from 1 to ``min_count - 1`` suppressed (:func:`~lineguard.contracts.ppe.suppress`),
and are dropped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from lineguard.config.edge import NodeConfig
from lineguard.config.ppe import PpeSettings
from lineguard.contracts.ids import new_id
from lineguard.contracts.ppe import PpeCounts, PpeItemCount, suppress

__all__ = ["HourlyTally", "hour_of"]


def hour_of(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


@dataclass
class _ZoneHour:
    frames: int = 0
    seen: int = 0
    lacking: dict[str, int] = field(default_factory=dict)


class HourlyTally:
    """The open hour's counts for every zone of one camera."""

    def __init__(
        self, node: NodeConfig, settings: PpeSettings, *, camera_id: str, station_id: str, classifier_id: str
    ) -> None:
        self.node, self.settings = node, settings
        self.camera_id, self.station_id, self.classifier_id = camera_id, station_id, classifier_id
        self.hour: dt.datetime | None = None
        self._zones: dict[str, _ZoneHour] = {}
        self._reset()

    def _reset(self) -> None:
        self._zones = {z.name: _ZoneHour(lacking=dict.fromkeys(z.required, 0)) for z in self.settings.zones}

    def advance(self, moment: dt.datetime) -> list[PpeCounts]:
        """Move to ``moment``'s hour; the messages of the hour that ended (if one did)."""
        hour = hour_of(moment)
        if self.hour is None:
            self.hour = hour
            return []
        if hour <= self.hour:  # same hour (or a clock step back: counted in the open hour)
            return []
        return self.close(next_hour=hour)

    def frame_seen(self) -> None:
        for zone in self._zones.values():
            zone.frames += 1

    def add(self, zone: str, missing: set[str]) -> None:
        """One sighting in ``zone``, lacking the ``missing`` items of those required there."""
        tally = self._zones[zone]
        tally.seen += 1
        for item in missing & tally.lacking.keys():
            tally.lacking[item] += 1

    def close(self, *, next_hour: dt.datetime | None = None) -> list[PpeCounts]:
        """The open hour's messages (nothing if no frame was seen), and a fresh hour."""
        hour, zones = self.hour, self._zones
        self.hour = next_hour
        self._reset()
        if hour is None or not any(z.frames for z in zones.values()):
            return []
        return [self._message(name, hour, z) for name, z in zones.items()]

    def _message(self, zone: str, hour: dt.datetime, tally: _ZoneHour) -> PpeCounts:
        k = self.settings.min_count
        seen = suppress(tally.seen, k)
        counts_id = new_id("ppe")
        return PpeCounts(
            counts_id=counts_id,
            idempotency_key=f"{self.node.node_id}:{counts_id}",
            node_id=self.node.node_id,
            site_id=self.node.site_id,
            line_id=self.node.line_id,
            station_id=self.station_id,
            camera_id=self.camera_id,
            zone=zone,
            hour_start=hour,
            sampled_frames=tally.frames,
            min_count=k,
            people_seen=seen,
            items=[
                PpeItemCount(item=item, lacking=None if seen is None else suppress(n, k))
                for item, n in tally.lacking.items()
            ],
            classifier=self.classifier_id,
        )
