"""Hourly tallies per zone, and the only messages that leave: :class:`~lineguard.contracts.ppe.PpeCounts`.

A tally is three kinds of integer per (zone, hour): frames looked at, people seen, and per
required item how many lacked it. Nothing else is kept — no box, no time finer than the
hour, nothing that tells one sighting from another. When an hour is over (a frame of a
later hour arrives, or the camera stops) its tallies become one message per zone, with
every count from 1 to ``min_count - 1`` suppressed (:func:`~lineguard.contracts.ppe.suppress`),
and are dropped. An hour is sent once, when it is over: a restart does not end it, the
counter saves the open hour (:meth:`HourlyTally.snapshot`, :mod:`~lineguard.edge.ppe.open_hour`)
and takes it up again (:meth:`HourlyTally.resume`). Each zone's ``counts_id`` is drawn when the
hour opens and kept with it, so a message sent twice is the same message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from lineguard.config.edge import NodeConfig
from lineguard.config.ppe import PpeSettings
from lineguard.contracts.ids import new_id
from lineguard.contracts.ppe import PpeCounts, PpeItemCount, suppress
from lineguard.edge.ppe.open_hour import OpenHour, ZoneCounts

__all__ = ["HourlyTally", "hour_of"]


def hour_of(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


@dataclass
class _ZoneHour:
    counts_id: str = field(default_factory=lambda: new_id("ppe"))
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

    def snapshot(self) -> OpenHour | None:
        """The open hour as the node saves it (None: no frame seen in it yet)."""
        if self.hour is None or not any(z.frames for z in self._zones.values()):
            return None
        return OpenHour(
            camera_id=self.camera_id,
            hour_start=self.hour,
            zones={
                name: ZoneCounts(counts_id=z.counts_id, frames=z.frames, seen=z.seen, lacking=dict(z.lacking))
                for name, z in self._zones.items()
            },
        )

    def resume(self, saved: OpenHour) -> list[PpeCounts]:
        """Take up a saved open hour; the messages of one that cannot go on.

        Nothing is open yet (a fresh tally). When the saved zones and required items are this
        camera's, the hour goes on counting where it stopped. When edge.yaml changed them the
        counts cannot be merged: the saved hour is sent as it stands (suppressed as always)
        and the hour's rest becomes a second message; the server never adds a suppressed part
        to a shown one, so a small part stays hidden.
        """
        if self.hour is not None:
            msg = "resume() is for a fresh tally: an hour is already open"
            raise RuntimeError(msg)
        same = {n: set(z.lacking) for n, z in self._zones.items()} == {
            n: set(z.lacking) for n, z in saved.zones.items()
        }
        zones = {
            name: _ZoneHour(counts_id=z.counts_id, frames=z.frames, seen=z.seen, lacking=dict(z.lacking))
            for name, z in saved.zones.items()
        }
        if not same:
            return [self._message(name, saved.hour_start, z) for name, z in zones.items()]
        self.hour, self._zones = saved.hour_start, zones
        return []

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
        return PpeCounts(
            counts_id=tally.counts_id,
            idempotency_key=f"{self.node.node_id}:{tally.counts_id}",
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
